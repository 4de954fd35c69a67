namespace Serverless.Cli.Tests.Cluster;

/// <summary>One cluster (3 shards) shared by the tests that do not kill anything; started once per run.</summary>
[TestClass]
public static class SharedCluster
{
    private static TestCluster? s_cluster;

    public static TestCluster Instance => s_cluster ?? throw new InvalidOperationException("the shared cluster did not start");

    [AssemblyInitialize]
    public static async Task StartAsync(TestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        s_cluster = await TestCluster.StartAsync(shards: 3).ConfigureAwait(false);
    }

    [AssemblyCleanup]
    public static async Task StopAsync()
    {
        if (s_cluster is not null)
        {
            await s_cluster.DisposeAsync().ConfigureAwait(false);
        }
    }
}
