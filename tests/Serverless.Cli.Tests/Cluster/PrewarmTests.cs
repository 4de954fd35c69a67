using Serverless.Core.Registry;
using Serverless.Core.Sharding;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>A shard instance that starts prewarms its shard's hot models before it reports ready.</summary>
[TestClass]
public sealed class PrewarmTests
{
    private const string Body = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    [TestMethod]
    [Timeout(180_000)]
    public async Task RestartedShard_AnswersItsHotModelFromCache_OnTheFirstRequest()
    {
        await using var cluster = await TestCluster.StartAsync(shards: 2, new Dictionary<string, string>
        {
            ["Scaling__IntervalSeconds"] = "1",
            ["Shard__HeartbeatSeconds"] = "1",
        });
        Assert.AreEqual(ModelStates.Ready, (await cluster.PublishAsync("demo", "warm-me", "1", DemoModels.Linear())).State);
        string? shardId = null;
        for (var i = 0; i < 10; i++)
        {
            var (status, _, response) = await cluster.InferAsync(cluster.DemoKey, "warm-me", Body);
            Assert.AreEqual(200, status);
            shardId = response.Headers.GetValues("x-served-by").Single();
        }

        // The shard records its hot models in its row (bounded wait).
        using var cache = new Microsoft.Extensions.Caching.Memory.MemoryCache(new Microsoft.Extensions.Caching.Memory.MemoryCacheOptions());
        var directory = new ShardDirectory(cluster.Storage, cache, TimeProvider.System);
        var recorded = false;
        for (var i = 0; i < 60 && !recorded; i++)
        {
            await Task.Delay(250);
            recorded = (await directory.GetAsync("cpu", shardId!, CancellationToken.None))?.HotModels.Contains("demo~warm-me", StringComparison.Ordinal) == true;
        }

        Assert.IsTrue(recorded, "the shard's row lists its hot model");

        await cluster.Cluster.RestartShardAsync(cluster.State, shardId!, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // the router re-reads Table shards every 2 s

        var (firstStatus, _, first) = await cluster.InferAsync(cluster.DemoKey, "warm-me", Body);
        Assert.AreEqual(200, firstStatus);
        Assert.AreEqual(shardId, first.Headers.GetValues("x-served-by").Single());
        Assert.AreEqual("hit", first.Headers.GetValues("x-cache").Single(), "the restarted instance prewarmed the model");
    }
}
