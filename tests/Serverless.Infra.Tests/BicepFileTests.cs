namespace Serverless.Infra.Tests;

/// <summary>
/// Every .bicep file under infra/ builds and lints with the pinned Bicep CLI: exit code 0 and no Error or
/// Warning diagnostic (linter warnings fail too). One test per file; the CLI runs once over all of them.
/// </summary>
[TestClass]
public sealed class BicepFileTests
{
    public static IEnumerable<object[]> Files => BicepCli.BicepFiles().Select(file => new object[] { file });

    [TestMethod]
    public void InfraHasBicepFilesIncludingMain()
    {
        CollectionAssert.Contains(BicepCli.BicepFiles().ToList(), "main.bicep");
    }

    [TestMethod]
    public void ThePinnedBicepCliRuns()
    {
        var result = BicepCli.Run("--version");
        Assert.AreEqual(0, result.ExitCode, result.Describe());
        StringAssert.Contains(result.StandardOutput, $"Bicep CLI version {BicepCli.PinnedVersion} ");
    }

    [TestMethod]
    [DynamicData(nameof(Files))]
    public void BuildsWithoutErrorsOrWarnings(string file)
    {
        var result = BicepCli.BuildAll();
        AssertClean("build", file, result);
        Assert.IsNotNull(BicepCli.BuildJson(file)["resources"], $"bicep build {file}: the ARM JSON has no resources");
    }

    [TestMethod]
    [DynamicData(nameof(Files))]
    public void LintsWithoutErrorsOrWarnings(string file) => AssertClean("lint", file, BicepCli.LintAll());

    [TestMethod]
    public void EveryDiagnosticIsAttributedToAFile()
    {
        // A problem line that names no file under infra/ (or a failing exit with no line at all) fails here.
        foreach (var (verb, result) in new[] { ("build", BicepCli.BuildAll()), ("lint", BicepCli.LintAll()) })
        {
            var attributed = BicepCli.BicepFiles().SelectMany(file => BicepCli.ProblemsIn(result, file)).ToHashSet(StringComparer.Ordinal);
            var stray = result.Problems.Where(line => !attributed.Contains(line)).ToList();
            Assert.AreEqual(0, stray.Count, $"bicep {verb}:\n{string.Join('\n', stray)}");
            Assert.AreEqual(0, result.ExitCode, $"bicep {verb}: {result.Describe()}");
        }
    }

    private static void AssertClean(string verb, string file, BicepResult result)
    {
        // The CLI ran over every file at once: its exit code is checked in EveryDiagnosticIsAttributedToAFile,
        // so that a broken file fails its own test (and main.bicep's, which no longer builds), not all of them.
        var problems = BicepCli.ProblemsIn(result, file);
        Assert.AreEqual(0, problems.Count, $"bicep {verb} {file} reported:\n{string.Join('\n', problems)}");
    }
}
