namespace Serverless.Cli.Tests.Cluster;

/// <summary>One cluster (3 shards) shared by the tests that do not kill anything; started once per run.</summary>
[TestClass]
public static class SharedCluster
{
    private static TestCluster? s_cluster;
    private static Serverless.Scoring.OrtRuntime? s_runtime;

    public static TestCluster Instance => s_cluster ?? throw new InvalidOperationException("the shared cluster did not start");

    /// <summary>
    /// The test process's one ONNX Runtime environment with the apps' options, for tests that run the publisher in this
    /// process: ORT allows one environment per process and refuses options once any exists (a test's plain
    /// <c>new InferenceSession</c> creates the default one), so it is made here, before any test runs.
    /// </summary>
    public static Serverless.Scoring.OrtRuntime Runtime => s_runtime ?? throw new InvalidOperationException("the shared runtime was not created");

    [AssemblyInitialize]
    public static async Task StartAsync(TestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        s_runtime = new Serverless.Scoring.OrtRuntime();
        s_cluster = await TestCluster.StartAsync(shards: 3).ConfigureAwait(false);
    }

    [AssemblyCleanup]
    public static async Task StopAsync()
    {
        if (s_cluster is not null)
        {
            await s_cluster.DisposeAsync().ConfigureAwait(false);
        }

        s_runtime?.Dispose();
    }
}
