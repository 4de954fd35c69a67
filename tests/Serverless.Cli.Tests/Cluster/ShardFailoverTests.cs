using Serverless.Cli.Cluster;
using Serverless.Core.Onnx;
using Serverless.Core.Registry;

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
}
