using System.Diagnostics;
using Serverless.Core.Placement;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>
/// Isolation between tenants: a tenant that floods is throttled (429 with Retry-After) and can only reach
/// its own shuffle shard, while a tenant on other shards keeps being answered. (Its latency figures are
/// in the benchmarks; tests assert mechanisms, not timings.)
/// </summary>
[TestClass]
public sealed class NoisyNeighborTests
{
    private const string Body = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    [TestMethod]
    [Timeout(120_000)]
    public async Task FloodingTenant_IsThrottled_WhileATenantOnOtherShardsIsAnswered()
    {
        var cluster = SharedCluster.Instance;
        var shardIds = cluster.State.Shards.Select(s => s.Id).ToList();
        // Two tenants whose shuffle shards (k = 1) are disjoint, found with the placement code itself.
        var noisy = "noisy-0";
        var quiet = Enumerable.Range(0, 200).Select(i => $"quiet-{i}")
            .First(t => RendezvousPlacement.Top(RendezvousPlacement.TenantKey(t), shardIds, 1)[0] != RendezvousPlacement.Top(RendezvousPlacement.TenantKey(noisy), shardIds, 1)[0]);
        var noisyShard = RendezvousPlacement.Top(RendezvousPlacement.TenantKey(noisy), shardIds, 1)[0];
        var quietShard = RendezvousPlacement.Top(RendezvousPlacement.TenantKey(quiet), shardIds, 1)[0];
        var noisyKey = await cluster.Tenants.AddKeyAsync(noisy, 1, 20, CancellationToken.None);
        var quietKey = await cluster.Tenants.AddKeyAsync(quiet, 1, 1000, CancellationToken.None);
        Assert.AreEqual(ModelStates.Ready, (await cluster.PublishAsync(noisy, "flood", "1", DemoModels.Linear())).State);
        Assert.AreEqual(ModelStates.Ready, (await cluster.PublishAsync(quiet, "calm", "1", DemoModels.Linear())).State);

        // 6 callers flood for 3 s (bounded), while the quiet tenant makes steady requests.
        var until = Stopwatch.StartNew();
        var noisyStatuses = new System.Collections.Concurrent.ConcurrentBag<(int Status, string? RetryAfter, string? ServedBy)>();
        var flood = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            while (until.Elapsed < TimeSpan.FromSeconds(3))
            {
                var (status, _, response) = await cluster.InferAsync(noisyKey, "flood", Body);
                noisyStatuses.Add((status, response.Headers.RetryAfter?.ToString(), response.Headers.TryGetValues("x-served-by", out var s) ? s.Single() : null));
            }
        })).ToArray();
        var quietStatuses = new List<(int Status, string? ServedBy)>();
        while (until.Elapsed < TimeSpan.FromSeconds(3))
        {
            var (status, _, response) = await cluster.InferAsync(quietKey, "calm", Body);
            quietStatuses.Add((status, response.Headers.TryGetValues("x-served-by", out var s) ? s.Single() : null));
            await Task.Delay(50);
        }

        await Task.WhenAll(flood);

        var throttled = noisyStatuses.Where(s => s.Status == 429).ToList();
        Assert.IsTrue(throttled.Count > 0, "the flooding tenant is throttled");
        Assert.IsTrue(throttled.All(s => s.RetryAfter is not null), "429 answers carry Retry-After");
        Assert.IsTrue(noisyStatuses.Where(s => s.Status == 200).All(s => s.ServedBy == noisyShard), "the flooding tenant reaches only its own shard");
        Assert.IsTrue(quietStatuses.Count > 10, $"only {quietStatuses.Count} quiet requests were made");
        Assert.IsTrue(quietStatuses.All(s => s.Status == 200), string.Join(",", quietStatuses.Select(s => s.Status)));
        Assert.IsTrue(quietStatuses.All(s => s.ServedBy == quietShard), "the quiet tenant is served on its own shard, not the flooded one");
    }
}
