using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Security;

/// <summary>
/// What a request costs a shard does not depend on how wrong it is: shape bombs through the router and straight at
/// each shard leave the shards' memory where it was; an output over its cap is 400 naming it; a run whose request
/// gave up is stopped and frees its thread.
/// </summary>
[TestClass]
public sealed class RequestCostTests
{
    private const string Bomb = """{"inputs":[{"name":"x","shape":[67108864],"datatype":"FP64","data":[]}]}""";

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    [Timeout(300_000)]
    public async Task TheNinetyByteShapeBomb_SentAThousandTimes_LeavesEveryShardsMemoryWhereItWas()
    {
        const string tenant = "cost-bomber";
        var key = await Cluster.Tenants.AddKeyAsync(tenant, null, 10_000_000, CancellationToken.None);
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync(tenant, "target", "1", DemoModels.Linear())).State);
        var (warm, warmBody, warmResponse) = await Cluster.InferAsync(key, "target", """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""");
        warmResponse.Dispose();
        Assert.AreEqual(200, warm, warmBody?.ToJsonString());

        var before = Cluster.State.Shards.ToDictionary(s => s.Id, s => ResidentBytes(s.Pid));
        var wrong = 0;
        string? example = null;
        using var direct = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await Parallel.ForEachAsync(Enumerable.Range(0, 1000), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            int status;
            string? error;
            if (i % 2 == 0)
            {
                var (s, body, response) = await Cluster.InferAsync(key, "target", Bomb);
                response.Dispose();
                (status, error) = (s, (string?)body?["error"]);
            }
            else
            {
                // Straight at a shard, as the router forwards it (the internal key and the tenant header).
                var shard = Cluster.State.Shards[i % Cluster.State.Shards.Count];
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(shard.Url.TrimEnd('/') + "/v2/models/target/versions/1/infer"))
                {
                    Content = new StringContent(Bomb, Encoding.UTF8, "application/json"),
                };
                request.Headers.TryAddWithoutValidation("x-serverless-tenant", tenant);
                request.Headers.TryAddWithoutValidation("x-serverless-internal-key", Cluster.State.InternalKey);
                using var response = await direct.SendAsync(request);
                status = (int)response.StatusCode;
                var text = await response.Content.ReadAsStringAsync();
                error = text.Length == 0 ? null : (string?)JsonNode.Parse(text)?["error"];
            }

            if (status != 400 || error?.Contains("has 0 data elements but shape [67108864] needs 67108864", StringComparison.Ordinal) != true)
            {
                Interlocked.Increment(ref wrong);
                example = $"{status} {error}";
            }
        });

        Assert.AreEqual(0, wrong, example);
        foreach (var shard in Cluster.State.Shards)
        {
            var grew = ResidentBytes(shard.Pid) - before[shard.Id];
            Assert.IsLessThan(64L << 20, grew, $"{shard.Id} grew by {grew / (1024 * 1024)} MiB over 1,000 shape bombs");
        }

        Assert.IsTrue(Cluster.AllProcessesAlive());
    }

    [TestMethod]
    [Timeout(180_000)]
    public async Task AnOutputOverTheModelsCap_Is400NamingIt_AndSmallerOnesAreServed()
    {
        var manifest = Encoding.UTF8.GetBytes("""{"maxOutputBytes": 1048576}""");
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("demo", "cost-sized", "1", DemoModels.OutputSizedByInput(), manifest)).State);

        var (small, smallBody, smallResponse) = await Cluster.InferAsync(Cluster.DemoKey, "cost-sized", """{"inputs":[{"name":"shape","shape":[2],"datatype":"INT64","data":[2,3]}]}""");
        smallResponse.Dispose();
        Assert.AreEqual(200, small, smallBody?.ToJsonString());

        // 2048 × 2048 floats: 16 MiB, over the 1 MiB cap (its JSON would be about 10 times more).
        var (status, body, response) = await Cluster.InferAsync(Cluster.DemoKey, "cost-sized", """{"inputs":[{"name":"shape","shape":[2],"datatype":"INT64","data":[2048,2048]}]}""");
        response.Dispose();
        Assert.AreEqual(400, status, body?.ToJsonString());
        StringAssert.Contains((string?)body!["error"], "output cap of 1,048,576 bytes (maxOutputBytes in its model.json)");
        Assert.IsTrue(Cluster.AllProcessesAlive());
    }

    [TestMethod]
    [Timeout(180_000)]
    public async Task AnOutputOverTheShardsRunMemory_IsRefusedInsideOnnxRuntime_WithoutTheShardAllocatingIt()
    {
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("demo", "cost-vast", "1", DemoModels.OutputSizedByInput(), Encoding.UTF8.GetBytes("""{"maxOutputBytes": 1048576}"""))).State);
        var (warm, warmBody, warmResponse) = await Cluster.InferAsync(Cluster.DemoKey, "cost-vast", """{"inputs":[{"name":"shape","shape":[2],"datatype":"INT64","data":[2,3]}]}""");
        warmResponse.Dispose();
        Assert.AreEqual(200, warm, warmBody?.ToJsonString());
        var (_, placement) = await Cluster.GetAsync(Cluster.DemoKey, "v2/models/cost-vast/placement");
        var shard = Cluster.State.Shards.Single(s => s.Id == (string?)placement!["replicas"]![0]!["id"]);
        var before = ResidentBytes(shard.Pid);

        // 32768 × 16384 floats: 2 GiB, over the shard's 1 GiB of run memory (Ort__RunMemoryBytes). Without the shared
        // arena ONNX Runtime allocates and fills the 2 GiB before the output cap can look at it.
        for (var i = 0; i < 3; i++)
        {
            var (status, body, response) = await Cluster.InferAsync(Cluster.DemoKey, "cost-vast", """{"inputs":[{"name":"shape","shape":[2],"datatype":"INT64","data":[32768,16384]}]}""");
            response.Dispose();
            Assert.AreEqual(400, status, body?.ToJsonString());
            StringAssert.Contains((string?)body!["error"], "a tensor of 2,147,483,648 bytes");
            StringAssert.Contains((string?)body!["error"], "Ort__RunMemoryBytes");
        }

        var grew = ResidentBytes(shard.Pid) - before;
        Assert.IsLessThan(64L << 20, grew, $"{shard.Id} grew by {grew / (1024 * 1024)} MiB over three 2 GiB output asks");
        Assert.IsTrue(Cluster.AllProcessesAlive());
    }

    [TestMethod]
    [Timeout(240_000)]
    public async Task ARunWhoseRequestGaveUp_IsStopped_AndItsShardGoesIdle()
    {
        const string model = "cost-runaway";
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("demo", model, "1", DemoModels.Slow(512, 2000))).State);
        const string json = """{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[0]}]}""";
        // Loaded first with a short deadline (its answer does not matter): the measured call below only runs.
        await InferAsync(model, json, "30000", TimeSpan.FromSeconds(2));
        var (_, placement) = await Cluster.GetAsync(Cluster.DemoKey, $"v2/models/{model}/placement");
        var servedBy = (string?)placement!["replicas"]![0]!["id"];
        var shard = Cluster.State.Shards.Single(s => s.Id == servedBy);

        var (status, body) = await InferAsync(model, json, "300", TimeSpan.FromSeconds(30));
        Assert.AreEqual(504, status, body);

        // 2,000 products of 512×512 keep both cores busy for well over 10 s; stopped, the shard is idle again at once.
        // Idle is asked of one 1-second window among the first four (the shared cluster's other work, a prewarm or a
        // heartbeat, may land in one): a run that goes on fills every window.
        await Task.Delay(500);
        var windows = new List<double>();
        for (var i = 0; i < 4 && (windows.Count == 0 || windows[^1] >= 0.3); i++)
        {
            var cpuBefore = CpuSeconds(shard.Pid);
            await Task.Delay(1000);
            windows.Add(CpuSeconds(shard.Pid) - cpuBefore);
        }

        Assert.IsLessThan(0.3, windows[^1], $"{shard.Id} used {string.Join(", ", windows.Select(w => w.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))} s of CPU in each second after the request gave up: the run goes on");
        Assert.IsTrue(Cluster.AllProcessesAlive());
    }

    private static async Task<(int Status, string Body)> InferAsync(string model, string json, string timeoutMs, TimeSpan clientTimeout)
    {
        using var http = new HttpClient { BaseAddress = Cluster.Http.BaseAddress, Timeout = clientTimeout };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v2/models/{model}/infer") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Cluster.DemoKey);
        request.Headers.TryAddWithoutValidation("x-request-timeout-ms", timeoutMs);
        try
        {
            using var response = await http.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (TaskCanceledException)
        {
            return (0, "client timeout");
        }
    }

    private static long ResidentBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"no VmRSS for process {pid}");
    }

    /// <summary>User plus system CPU time of a process, from /proc/{pid}/stat (fields 14 and 15, in clock ticks of 1/100 s).</summary>
    private static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }
}
