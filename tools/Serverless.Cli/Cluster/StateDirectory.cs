using System.Text.Json;

namespace Serverless.Cli.Cluster;

/// <summary>
/// The <c>.serverless</c> folder: <c>local.json</c>, logs, Azurite's data, and the pinned tools. By default
/// it is in the repository root (found from the working directory), or where SERVERLESS_HOME says.
/// </summary>
public sealed class StateDirectory
{
    public StateDirectory(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    public string StateFile => System.IO.Path.Combine(Path, "local.json");

    public string LogsPath => System.IO.Path.Combine(Path, "logs");

    public string AzuriteDataPath => System.IO.Path.Combine(Path, "azurite");

    /// <summary>The default: $SERVERLESS_HOME, else <c>.serverless</c> in the repository root above the working directory.</summary>
    public static StateDirectory Default()
    {
        var home = Environment.GetEnvironmentVariable("SERVERLESS_HOME");
        if (!string.IsNullOrEmpty(home))
        {
            return new StateDirectory(home);
        }

        return new StateDirectory(System.IO.Path.Combine(RepositoryRoot() ?? Environment.CurrentDirectory, ".serverless"));
    }

    /// <summary>The folder above the working directory (or this program) that holds <c>Serverless.sln</c>.</summary>
    public static string? RepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "Serverless.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }

    public LocalClusterState? Read()
    {
        if (!File.Exists(StateFile))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(StateFile), CliJsonContext.Default.LocalClusterState);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Write(LocalClusterState state)
    {
        Directory.CreateDirectory(Path);
        var temp = StateFile + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(state, CliJsonContext.Default.LocalClusterState));
        File.Move(temp, StateFile, overwrite: true);
    }

    public void Delete()
    {
        if (File.Exists(StateFile))
        {
            File.Delete(StateFile);
        }
    }
}
