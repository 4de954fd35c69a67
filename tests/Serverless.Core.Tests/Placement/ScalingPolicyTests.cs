using System.ComponentModel.DataAnnotations;
using Serverless.Core.Placement;

namespace Serverless.Core.Tests.Placement;

[TestClass]
public sealed class ScalingPolicyTests
{
    private static readonly ScalingPolicy Defaults = new(new ScalingOptions());

    [TestMethod]
    public void ByDefault_AFastModelAtAHighRate_KeepsOneReplica()
    {
        // 10,000 req/s of a model served in 30 µs: 0.3 requests in flight on average, a third of one replica's target.
        Assert.AreEqual(1, Defaults.ReplicasFor(requestsPerSecond: 10_000, concurrency: 0.3));
    }

    [TestMethod]
    public void ByDefault_ASlowModel_GetsAReplicaPerRequestInFlight()
    {
        // 100 req/s of a model served in 25 ms: 2.5 in flight, so 3 replicas at the default target of 1.
        Assert.AreEqual(3, Defaults.ReplicasFor(requestsPerSecond: 100, concurrency: 2.5));
        Assert.AreEqual(1, Defaults.ReplicasFor(requestsPerSecond: 100, concurrency: 1.0));
        Assert.AreEqual(2, Defaults.ReplicasFor(requestsPerSecond: 100, concurrency: 1.01));
    }

    [TestMethod]
    public void AModelUsingMoreThanItsShareOfAReplicasCpu_GetsAnother_EvenWithFewRequestsInFlight()
    {
        // A 15 µs model at 30,000 req/s: 0.45 in flight, but its traffic keeps 90% of the instance's cores busy.
        Assert.AreEqual(2, Defaults.ReplicasFor(requestsPerSecond: 30_000, concurrency: 0.45, utilization: 0.9));
        Assert.AreEqual(1, Defaults.ReplicasFor(requestsPerSecond: 30_000, concurrency: 0.45, utilization: 0.7));
        var off = new ScalingPolicy(new ScalingOptions { UtilizationPerReplica = 0 });
        Assert.AreEqual(1, off.ReplicasFor(requestsPerSecond: 30_000, concurrency: 0.45, utilization: 0.9), "0 turns the CPU criterion off");
    }

    [TestMethod]
    public void ARequestRateTarget_WhenSet_AlsoAddsReplicas_TheLargerCountWins()
    {
        var policy = new ScalingPolicy(new ScalingOptions { RequestsPerReplica = 200 });
        Assert.AreEqual(5, policy.ReplicasFor(requestsPerSecond: 1_000, concurrency: 0.1), "the rate calls for 5");
        Assert.AreEqual(4, policy.ReplicasFor(requestsPerSecond: 100, concurrency: 3.5), "the concurrency calls for 4");
    }

    [TestMethod]
    public void TheCount_StaysBetweenOneAndTheMaximum()
    {
        var policy = new ScalingPolicy(new ScalingOptions { MaxReplicas = 4 });
        Assert.AreEqual(1, policy.ReplicasFor(0, 0));
        Assert.AreEqual(1, policy.ReplicasFor(-5, -1));
        Assert.AreEqual(4, policy.ReplicasFor(0, 100));
    }

    [TestMethod]
    public void ScalesOutAtOnce_ButInOneReplicaAtATime_OnlyAfterTheQuietPeriod()
    {
        var policy = new ScalingPolicy(new ScalingOptions { ScaleDownAfter = TimeSpan.FromSeconds(60) });
        Assert.AreEqual(6, policy.Decide(0, 5.5, 0, currentReplicas: 1, TimeSpan.Zero), "out: straight to what the load needs");
        Assert.AreEqual(6, policy.Decide(0, 0.2, 0, currentReplicas: 6, TimeSpan.FromSeconds(59)), "in: not before the quiet period");
        Assert.AreEqual(5, policy.Decide(0, 0.2, 0, currentReplicas: 6, TimeSpan.FromSeconds(60)), "in: one replica at a time");
    }

    [TestMethod]
    public void Options_RejectANonPositiveConcurrencyTarget_AUtilizationAboveOne_AndANegativeRate()
    {
        Assert.IsFalse(IsValid(new ScalingOptions { ConcurrencyPerReplica = 0 }));
        Assert.IsFalse(IsValid(new ScalingOptions { UtilizationPerReplica = 1.5 }));
        Assert.IsFalse(IsValid(new ScalingOptions { RequestsPerReplica = -1 }));
        Assert.IsTrue(IsValid(new ScalingOptions { RequestsPerReplica = 0 }), "0 turns the rate target off");
        Assert.IsTrue(IsValid(new ScalingOptions()));
    }

    private static bool IsValid(ScalingOptions options) =>
        Validator.TryValidateObject(options, new ValidationContext(options), null, validateAllProperties: true);
}
