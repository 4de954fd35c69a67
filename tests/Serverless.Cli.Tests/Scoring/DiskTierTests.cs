using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Tests.Scoring;

/// <summary>A model evicted from a shard's cache is reloaded from the local disk tier, not from Blob.</summary>
[TestClass]
public sealed class DiskTierTests
{
    private const string Body = """{"inputs":[{"name":"tier_in","shape":[2],"datatype":"FP32","data":[1.5,-2]}]}""";

    [TestMethod]
    [Timeout(60_000)]
    public async Task EvictedModel_ReloadsFromTheDiskTier()
    {
        var cluster = SharedCluster.Instance;
        var outcome = await cluster.PublishAsync("demo", "tiered", "1", DemoModels.Identity("tier_in", OnnxElementType.Float, "n"));
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);

        var (status, body, first) = await cluster.InferAsync(cluster.DemoKey, "tiered", Body);
        Assert.AreEqual(200, status, body?.ToJsonString());
        Assert.AreEqual("miss", first.Headers.GetValues("x-cache").Single());
        Assert.AreEqual("blob", first.Headers.GetValues("x-load-source").Single());
        var shardId = first.Headers.GetValues("x-served-by").Single();
        var shard = cluster.State.Shards.Single(s => s.Id == shardId);

        // The bytes reach the tier off the request's path: wait for the file (bounded).
        var file = Path.Combine(cluster.Directory.Path, "tier", shardId, outcome.Row!.Sha256 + ".onnx");
        for (var i = 0; i < 50 && !File.Exists(file); i++)
        {
            await Task.Delay(100);
        }

        Assert.IsTrue(File.Exists(file), $"the disk tier keeps the model's bytes at {file}");

        using var http = new HttpClient();
        using (var unload = new HttpRequestMessage(HttpMethod.Post, $"{shard.Url}/v2/repository/models/tiered/versions/1/unload"))
        {
            unload.Headers.TryAddWithoutValidation("x-api-key", cluster.DemoKey);
            using var unloaded = await http.SendAsync(unload);
            Assert.AreEqual(200, (int)unloaded.StatusCode, await unloaded.Content.ReadAsStringAsync());
        }

        var (reloadStatus, reloadBody, reload) = await cluster.InferAsync(cluster.DemoKey, "tiered", Body);
        Assert.AreEqual(200, reloadStatus, reloadBody?.ToJsonString());
        Assert.AreEqual("miss", reload.Headers.GetValues("x-cache").Single());
        Assert.AreEqual("disk", reload.Headers.GetValues("x-load-source").Single(), "the evicted model comes back from the disk tier");
        CollectionAssert.AreEqual(new[] { 1.5f, -2f }, reloadBody!["outputs"]![0]!["data"]!.AsArray().Select(n => (float)n!).ToArray());

        var (_, _, third) = await cluster.InferAsync(cluster.DemoKey, "tiered", Body);
        Assert.AreEqual("hit", third.Headers.GetValues("x-cache").Single());
    }
}
