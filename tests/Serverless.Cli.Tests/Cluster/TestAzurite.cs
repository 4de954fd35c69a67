using Serverless.Cli.Cluster;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>An Azurite of a test class's own (in memory, free ports), for tests of storage code without a cluster.</summary>
internal static class TestAzurite
{
    /// <summary>Installs the pinned Azurite if needed and starts it, logging to a temp file named after <paramref name="name"/>.</summary>
    public static async Task<AzuriteProcesses> StartAsync(string name)
    {
        var tools = Azurite.ToolsDirectory();
        await Azurite.EnsureInstalledAsync(tools, Console.WriteLine, CancellationToken.None);
        var log = Path.Combine(Path.GetTempPath(), name + "-azurite-" + Guid.NewGuid().ToString("N")[..8] + ".log");
        return await Azurite.StartAsync(tools, null, log, CancellationToken.None);
    }
}
