using System.Xml.Linq;

namespace Serverless.Infra.Tests;

/// <summary>
/// The libraries under core/ keep the layout docs/architecture.md draws: their project references form no cycle
/// (MSBuild would refuse one, but a test names it), each references only the libraries the layout allows, only the
/// HTTP edge references ASP.NET Core, and no shipping project references the test and demo model builder.
/// </summary>
[TestClass]
public sealed class ProjectGraphTests
{
    /// <summary>What each library under core/ may reference, by the layout (a subset is fine; anything else is not).</summary>
    private static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        ["Serverless.Onnx"] = [],
        ["Serverless.Core"] = [],
        ["Serverless.Scoring"] = ["Serverless.Core", "Serverless.Onnx"],
        ["Serverless.Routing"] = ["Serverless.Core"],
        ["Serverless.Publishing"] = ["Serverless.Core", "Serverless.Onnx", "Serverless.Scoring", "Serverless.Routing"],
        ["Serverless.Http"] = ["Serverless.Core", "Serverless.Scoring", "Serverless.Routing", "Serverless.Publishing"],
    };

    [TestMethod]
    public void CoreLibraries_ReferenceOnlyWhatTheLayoutAllows()
    {
        var graph = Graph();
        CollectionAssert.AreEquivalent(Allowed.Keys.ToArray(), graph.Keys.Where(k => Project(k).StartsWith("core", StringComparison.Ordinal)).ToArray(), "the libraries under core/ are the layout's");
        foreach (var (library, allowed) in Allowed)
        {
            var extra = graph[library].Except(allowed).ToArray();
            Assert.AreEqual(0, extra.Length, $"{library} references {string.Join(", ", extra)}, which the layout does not allow");
        }
    }

    [TestMethod]
    public void ProjectReferences_HaveNoCycle()
    {
        var graph = Graph();
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var project in graph.Keys)
        {
            var path = new List<string>();
            Assert.IsFalse(HasCycle(project, graph, state, path), $"reference cycle: {string.Join(" -> ", path)}");
        }
    }

    [TestMethod]
    public void OnlyTheHttpEdge_AmongCoreLibraries_ReferencesAspNetCore()
    {
        foreach (var library in Allowed.Keys)
        {
            var document = XDocument.Load(Path.Combine(BicepCli.RepositoryRoot, Project(library)));
            var aspNet = document.Descendants("FrameworkReference").Any(e => (string?)e.Attribute("Include") == "Microsoft.AspNetCore.App")
                || document.Descendants("PackageReference").Any(e => ((string?)e.Attribute("Include") ?? "").StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
            Assert.AreEqual(library == "Serverless.Http", aspNet, $"{library}: only the HTTP edge (Serverless.Http) references ASP.NET Core");
        }
    }

    [TestMethod]
    public void ShippingProjects_DoNotReferenceTheModelBuilder()
    {
        var graph = Graph();
        foreach (var project in graph.Keys.Where(k => Project(k).StartsWith("core", StringComparison.Ordinal) || Project(k).StartsWith("functions", StringComparison.Ordinal)))
        {
            Assert.IsFalse(Reaches(project, "Serverless.ModelBuilder", graph), $"{project} ships with the platform and must not reference the test and demo model builder");
        }
    }

    private static bool Reaches(string from, string to, Dictionary<string, string[]> graph) =>
        graph[from].Any(next => next == to || Reaches(next, to, graph));

    // 0 unseen, 1 on the current path, 2 done.
    private static bool HasCycle(string project, Dictionary<string, string[]> graph, Dictionary<string, int> state, List<string> path)
    {
        path.Add(project);
        if (state.GetValueOrDefault(project) == 1)
        {
            return true;
        }

        if (state.GetValueOrDefault(project) == 2)
        {
            path.RemoveAt(path.Count - 1);
            return false;
        }

        state[project] = 1;
        foreach (var next in graph[project])
        {
            if (HasCycle(next, graph, state, path))
            {
                return true;
            }
        }

        state[project] = 2;
        path.RemoveAt(path.Count - 1);
        return false;
    }

    private static readonly Dictionary<string, string> Paths = FindProjects();

    private static Dictionary<string, string> FindProjects()
    {
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var folder in new[] { "core", "functions", "tools", "tests" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(BicepCli.RepositoryRoot, folder), "*.csproj", SearchOption.AllDirectories))
            {
                if (!file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                {
                    paths[Path.GetFileNameWithoutExtension(file)] = Path.GetRelativePath(BicepCli.RepositoryRoot, file);
                }
            }
        }

        return paths;
    }

    private static string Project(string name) => Paths[name];

    private static Dictionary<string, string[]> Graph()
    {
        var graph = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (name, relative) in Paths)
        {
            graph[name] = XDocument.Load(Path.Combine(BicepCli.RepositoryRoot, relative)).Descendants("ProjectReference")
                .Select(e => Path.GetFileNameWithoutExtension(((string?)e.Attribute("Include") ?? "").Replace('\\', '/')))
                .ToArray();
        }

        return graph;
    }
}
