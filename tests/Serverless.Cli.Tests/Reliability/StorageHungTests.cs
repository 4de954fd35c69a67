using System.Diagnostics;
using System.Text;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;

namespace Serverless.Cli.Tests.Reliability;

/// <summary>
/// Storage hung, not down: Azurite paused (SIGSTOP) takes connections and answers nothing, as a partitioned or
/// throttled account does. A caller with a key the process never verified needs a storage read, and must get 503
/// with Retry-After within 2 s from every router and shard endpoint but <c>/v2/health/live</c>, never an empty 500
/// or a 30 s wait. One cluster for the class; Azurite is resumed after each row, whatever happened.
/// </summary>
[TestClass]
public sealed class StorageHungTests
{
    private const string InferBody = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(2);
    private static TestCluster? _cluster;
    private static int _tenants;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context) =>
        _cluster = await TestCluster.StartAsync(shards: 1, cancellationToken: context.CancellationTokenSource.Token);

    [ClassCleanup]
    public static async Task StopAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [TestMethod]
    [Timeout(60_000)]
    [DataRow("router", "GET", "v2/models/m", DisplayName = "router metadata")]
    [DataRow("router", "GET", "v2/models/m/versions/1", DisplayName = "router version metadata")]
    [DataRow("router", "GET", "v2/models/m/ready", DisplayName = "router model ready")]
    [DataRow("router", "GET", "v2/models/m/versions/1/ready", DisplayName = "router version ready")]
    [DataRow("router", "POST", "v2/models/m/infer", DisplayName = "router infer")]
    [DataRow("router", "POST", "v2/models/m/versions/1/infer", DisplayName = "router version infer")]
    [DataRow("router", "GET", "v2/models/m/placement", DisplayName = "router placement")]
    [DataRow("router", "GET", "v2/models/m/versions/1/placement", DisplayName = "router version placement")]
    [DataRow("router", "GET", "v2/health/ready", DisplayName = "router server ready")]
    [DataRow("shard", "GET", "v2/models/m", DisplayName = "shard metadata")]
    [DataRow("shard", "GET", "v2/models/m/versions/1", DisplayName = "shard version metadata")]
    [DataRow("shard", "GET", "v2/models/m/ready", DisplayName = "shard model ready")]
    [DataRow("shard", "GET", "v2/models/m/versions/1/ready", DisplayName = "shard version ready")]
    [DataRow("shard", "POST", "v2/models/m/infer", DisplayName = "shard infer")]
    [DataRow("shard", "POST", "v2/models/m/versions/1/infer", DisplayName = "shard version infer")]
    [DataRow("shard", "POST", "v2/repository/models/m/versions/1/load", DisplayName = "shard repository load")]
    [DataRow("shard", "POST", "v2/repository/models/m/versions/1/unload", DisplayName = "shard repository unload")]
    [DataRow("shard", "GET", "v2/health/ready", DisplayName = "shard server ready")]
    public async Task StorageHung_KeyNeverSeen_Answers503WithRetryAfterWithinTwoSeconds(string app, string method, string path)
    {
        var cluster = _cluster!;
        // A tenant made now (storage up) whose key no process has verified: its first call needs a storage read.
        var tenant = $"hung-{Interlocked.Increment(ref _tenants)}-{Guid.NewGuid().ToString("N")[..6]}";
        var key = await cluster.Tenants.AddKeyAsync(tenant, null, CancellationToken.None);
        var baseUrl = app == "router" ? cluster.State.RouterUrl : cluster.State.Shards[0].Url;
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(30) };
        // Both of Azurite's processes (blob and table services): all of storage hangs, as an unreachable account would.
        int[] azurite = [cluster.State.Azurite!.Pid, cluster.State.AzuriteTables!.Pid];
        Signal(azurite, "STOP");
        try
        {
            if (path == "v2/health/ready")
            {
                // Readiness reports what the process has seen: a call that needed storage, and got nothing, comes first.
                using var first = await SendAsync(http, "GET", "v2/models/m", key);
            }

            var watch = Stopwatch.StartNew();
            using var response = await SendAsync(http, method, path, key);
            watch.Stop();
            var body = await response.Content.ReadAsStringAsync();
            TestContext.WriteLine($"{app} {method} /{path}: {(int)response.StatusCode} in {watch.ElapsedMilliseconds} ms, Retry-After {response.Headers.RetryAfter}: {body}");
            Assert.AreEqual(503, (int)response.StatusCode, body);
            Assert.IsNotNull(response.Headers.RetryAfter?.Delta, "Retry-After tells the caller when to come back");
            Assert.IsTrue(watch.Elapsed <= Limit, $"answered in {watch.ElapsedMilliseconds} ms, over {Limit.TotalMilliseconds} ms");
            StringAssert.Contains(body, "storage", "the answer says what is away");
        }
        finally
        {
            Signal(azurite, "CONT");
        }

        // Back: the same key works, so nothing was remembered wrongly during the outage.
        await WaitForAsync(async () =>
        {
            using var after = await SendAsync(http, "GET", "v2/models/m", key);
            return (int)after.StatusCode == 404;
        });
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string method, string path, string key)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        if (method == "POST")
        {
            request.Content = new StringContent(InferBody, Encoding.UTF8, "application/json");
        }

        return await http.SendAsync(request);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.IsTrue(watch.Elapsed < TimeSpan.FromSeconds(30), "storage came back and the endpoint answers again");
            await Task.Delay(200);
        }
    }

    /// <summary>Sends a signal to processes this test's cluster started (Azurite's, by their ids).</summary>
    private static void Signal(int[] pids, string signal)
    {
        foreach (var pid in pids)
        {
            Assert.IsTrue(ChildProcesses.IsOurs(pid, "azurite"), "only our own Azurite is paused");
            using var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {pid}") { UseShellExecute = false }) ?? throw new InvalidOperationException("kill did not start");
            kill.WaitForExit();
            Assert.AreEqual(0, kill.ExitCode, $"kill -{signal} {pid}");
        }
    }
}
