using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.Routing;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Tests.Reliability;

/// <summary>
/// A shard protects itself: one model gets at most its share of concurrent runs (429 with Retry-After beyond
/// it), and under memory pressure the shard loads nothing new (503) while it serves what is resident.
/// </summary>
[TestClass]
public sealed class SheddingTests
{
    private const int Width = 1024;

    [TestMethod]
    [Timeout(180_000)]
    public async Task PerModelConcurrency_And_MemoryPressure_ShedWithoutFailingResidentModels()
    {
        await using var cluster = await TestCluster.StartAsync(shards: 1, new Dictionary<string, string>
        {
            ["Shard__MaxConcurrentRequestsPerModel"] = "1",
            ["Shard__MaxQueuedRequestsPerModel"] = "0",
            // A limit any process is over: nothing new may be loaded by a request.
            ["Shard__MemoryLimitBytes"] = "1",
        });

        // Loaded through the warm-up an alias move does (not a request), so it is resident before the pressure matters.
        Assert.AreEqual(ModelStates.Ready, (await cluster.PublishAsync("demo", "heavy", "1", Heavy())).State);
        await cluster.Lifecycle.MoveAliasAsync("demo", "heavy", ModelRegistry.ProductionAlias, "1", warm: true, CancellationToken.None);
        var body = Request(rows: 64);
        var (first, firstBody, _) = await cluster.InferAsync(cluster.DemoKey, "heavy", body);
        Assert.AreEqual(200, first, firstBody?.ToJsonString());

        // 16 at once at a model allowed one run at a time and no queue: some are refused, none fails otherwise.
        var burst = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => cluster.InferAsync(cluster.DemoKey, "heavy", body)));
        var statuses = burst.Select(b => b.Status).ToArray();
        Assert.IsTrue(statuses.All(s => s is 200 or 429), string.Join(",", statuses));
        Assert.IsTrue(statuses.Count(s => s == 429) > 0, "the burst met the model's concurrency limit");
        Assert.IsTrue(statuses.Count(s => s == 200) > 0);
        var refused = burst.First(b => b.Status == 429);
        StringAssert.Contains(refused.Body?.ToJsonString(), "Shard__MaxConcurrentRequestsPerModel");
        Assert.IsNotNull(refused.Response.Headers.RetryAfter, "429 carries Retry-After");

        // A model not resident is not loaded under memory pressure: the shard says why, and lives on.
        Assert.AreEqual(ModelStates.Ready, (await cluster.PublishAsync("demo", "newcomer", "1", DemoModels.Linear())).State);
        var shard = cluster.State.Shards[0];
        using var direct = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(shard.Url), "/v2/models/newcomer/infer"))
        {
            Content = new StringContent("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""", Encoding.UTF8, "application/json"),
        };
        direct.Headers.Add(ShardHeaders.Tenant, "demo");
        direct.Headers.Add(ShardHeaders.InternalKey, cluster.State.InternalKey);
        using var answer = await cluster.Http.SendAsync(direct);
        var text = await answer.Content.ReadAsStringAsync();
        Assert.AreEqual(503, (int)answer.StatusCode, text);
        StringAssert.Contains(text, "memory pressure");
        Assert.IsNotNull(answer.Headers.RetryAfter);

        var (routed, _, _) = await cluster.InferAsync(cluster.DemoKey, "newcomer", """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""");
        Assert.AreEqual(503, routed, "through the router too, once its one replica declines");
        var (resident, residentBody, _) = await cluster.InferAsync(cluster.DemoKey, "heavy", body);
        Assert.AreEqual(200, resident, residentBody?.ToJsonString());
        Assert.IsTrue(cluster.AllProcessesAlive());
    }

    /// <summary>y = x · W, W FP32 [1024, 1024]: a 64-row request runs for milliseconds, so a burst overlaps.</summary>
    private static byte[] Heavy()
    {
        var weights = new float[Width * Width];
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = (i % 13) / 13f;
        }

        return new OnnxModelBuilder("heavy")
            .AddInput("x", OnnxElementType.Float, "batch", (long)Width)
            .AddOutput("y", OnnxElementType.Float, "batch", (long)Width)
            .AddInitializer("W", weights, Width, Width)
            .AddNode("MatMul", ["x", "W"], ["y"])
            .ToBytes();
    }

    private static string Request(int rows)
    {
        var json = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $$"""{"inputs":[{"name":"x","shape":[{{rows}},{{Width}}],"datatype":"FP32","data":["""));
        for (var i = 0; i < rows * Width; i++)
        {
            json.Append(i == 0 ? "" : ",").Append(((i % 5) * 0.5).ToString(CultureInfo.InvariantCulture));
        }

        return json.Append("]}]}").ToString();
    }
}
