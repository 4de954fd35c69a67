using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>A hot model gains a replica under load and gives it back after a quiet period.</summary>
[TestClass]
public sealed class PerModelScalingTests
{
    private const string Body = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    [TestMethod]
    [Timeout(180_000)]
    [DataRow("Scaling__ConcurrencyPerReplica", "0.001", DisplayName = "by requests in flight (the default criterion)")]
    [DataRow("Scaling__UtilizationPerReplica", "0.01", DisplayName = "by its share of the shard's CPU")]
    [DataRow("Scaling__RequestsPerReplica", "20", DisplayName = "by request rate")]
    public async Task HotModel_GainsAReplicaUnderLoad_AndLosesItWhenQuiet(string threshold, string value)
    {
        // A low threshold and short windows, so a test's load is "hot" and the quiet period short. The demo
        // model is served in well under a millisecond: under 4 callers it has ~0.01–0.1 requests in flight, over
        // a 0.001 target, uses more than 1% of the shard's CPU, and gets far more than 20 req/s. At the local
        // cluster's defaults (1 in flight, CPU and rate off) it would keep one replica.
        await using var cluster = await TestCluster.StartAsync(shards: 3, new Dictionary<string, string>
        {
            [threshold] = value,
            ["Scaling__IntervalSeconds"] = "1",
            ["Scaling__ScaleDownAfter"] = "00:00:03",
        });
        // A tenant whose quota is well above this load, so the router never throttles it.
        var key = await cluster.Tenants.AddKeyAsync("scaling", null, 100_000, CancellationToken.None);
        var outcome = await cluster.PublishAsync("scaling", "hot", "1", DemoModels.Linear());
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);

        // Load from 4 concurrent callers until the model has a second replica serving (bounded: 40 s).
        var servedBy = new HashSet<string>();
        var deadline = DateTime.UtcNow.AddSeconds(40);
        var failures = 0;
        while (DateTime.UtcNow < deadline && servedBy.Count < 2)
        {
            var batch = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => cluster.InferAsync(key, "hot", Body)));
            foreach (var (status, _, response) in batch)
            {
                if (status != 200)
                {
                    failures++;
                    continue;
                }

                lock (servedBy)
                {
                    servedBy.Add(response.Headers.GetValues("x-served-by").Single());
                }
            }

            await Task.Delay(5);
        }

        Assert.AreEqual(0, failures, "scaling out costs no failed request");
        Assert.IsTrue(servedBy.Count >= 2, "under load the model is served by a second replica");
        var row = await cluster.Placements.GetAsync("scaling", "hot", CancellationToken.None);
        Assert.IsNotNull(row);
        Assert.IsTrue(row.Replicas >= 2, $"placement row has {row.Replicas} replicas");
        StringAssert.StartsWith(row.Reason, "autoscale");

        // Quiet: the replica is given back after the quiet period (bounded wait).
        var quietDeadline = DateTime.UtcNow.AddSeconds(40);
        var replicas = row.Replicas;
        while (DateTime.UtcNow < quietDeadline && replicas > 1)
        {
            await Task.Delay(500);
            using var cache = new Microsoft.Extensions.Caching.Memory.MemoryCache(new Microsoft.Extensions.Caching.Memory.MemoryCacheOptions());
            replicas = (await new Serverless.Core.Placement.PlacementStore(cluster.Storage, cache, TimeProvider.System).GetAsync("scaling", "hot", CancellationToken.None))?.Replicas ?? 1;
        }

        Assert.AreEqual(1, replicas, "after the quiet period the model is back to one replica");
    }
}
