using Serverless.Cli.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>Killing a shard of a model placed on two replicas costs no failed request.</summary>
[TestClass]
public sealed class ShardFailoverTests
{
    private const string Body = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    [TestMethod]
    [Timeout(180_000)]
    public async Task KillingOneOfTwoReplicas_EveryRequestStillAnswers()
    {
        await using var cluster = await TestCluster.StartAsync(shards: 3);
        var outcome = await cluster.PublishAsync("demo", "replicated", "1", DemoModels.Linear());
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
        await cluster.Placements.SetReplicasAsync("demo", "replicated", 2, "test", CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // the router caches placement rows for 2 s

        // Both replicas serve (random choice between them), so both are warm.
        var servedBy = new HashSet<string>();
        for (var i = 0; i < 40 && servedBy.Count < 2; i++)
        {
            var (status, body, response) = await cluster.InferAsync(cluster.DemoKey, "replicated", Body);
            Assert.AreEqual(200, status, body?.ToJsonString());
            servedBy.Add(response.Headers.GetValues("x-served-by").Single());
        }

        Assert.AreEqual(2, servedBy.Count, "a model with two replicas is served by two shards");
        var victim = cluster.State.Shards.Single(s => s.Id == servedBy.First());
        ChildProcesses.Kill(victim.Pid);
        Assert.IsFalse(ChildProcesses.IsOurs(victim.Pid, "Serverless.LocalHost"), "the shard process is gone");

        var failures = 0;
        var survivors = new HashSet<string>();
        for (var i = 0; i < 60; i++)
        {
            var (status, _, response) = await cluster.InferAsync(cluster.DemoKey, "replicated", Body);
            if (status != 200)
            {
                failures++;
                continue;
            }

            survivors.Add(response.Headers.GetValues("x-served-by").Single());
        }

        Assert.AreEqual(0, failures, "no request fails when one of two replicas dies");
        Assert.IsFalse(survivors.Contains(victim.Id));
    }

    [TestMethod]
    [Timeout(180_000)]
    public async Task StoppingAShard_DrainsItsModelsToTheNextShard_WithoutAFailedRequest()
    {
        await using var cluster = await TestCluster.StartAsync(shards: 3);
        var outcome = await cluster.PublishAsync("demo", "drained", "1", DemoModels.Linear());
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
        var (first, _, firstResponse) = await cluster.InferAsync(cluster.DemoKey, "drained", Body);
        Assert.AreEqual(200, first);
        var serving = cluster.State.Shards.Single(s => s.Id == firstResponse.Headers.GetValues("x-served-by").Single());

        // Steady requests while the serving shard is asked to stop (SIGTERM, as a scale-in or deployment does).
        using var stop = new CancellationTokenSource();
        var statuses = new List<(int Status, string? ServedBy)>();
        var load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (status, _, response) = await cluster.InferAsync(cluster.DemoKey, "drained", Body);
                statuses.Add((status, response.Headers.TryGetValues("x-served-by", out var v) ? v.Single() : null));
                await Task.Delay(20);
            }
        });
        await Task.Delay(500);
        await ChildProcesses.StopAsync(serving.Pid, "Serverless.LocalHost", TimeSpan.FromSeconds(30));
        await Task.Delay(1000);
        await stop.CancelAsync();
        await load;

        Assert.IsFalse(ChildProcesses.IsOurs(serving.Pid, "Serverless.LocalHost"), "the shard stopped");
        Assert.IsTrue(statuses.Count > 20, $"only {statuses.Count} requests were made");
        Assert.AreEqual(0, statuses.Count(s => s.Status != 200), string.Join(", ", statuses.Where(s => s.Status != 200).Select(s => s.Status)));
        var last = statuses[^1].ServedBy;
        Assert.IsNotNull(last);
        Assert.AreNotEqual(serving.Id, last, "after the drain another shard serves the model");
    }
}
