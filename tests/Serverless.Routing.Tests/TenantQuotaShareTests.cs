using Serverless.Core.Sharding;
using Serverless.Core.Tenancy;
using Serverless.Routing;

namespace Serverless.Routing.Tests;

/// <summary>Each router instance applies its share of a tenant's quota, so the total holds across instances.</summary>
[TestClass]
public sealed class TenantQuotaShareTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    [TestMethod]
    [DataRow(100, 1, 100)]
    [DataRow(100, 2, 50)]
    [DataRow(100, 3, 34)]
    [DataRow(1, 4, 1)]
    [DataRow(20, 0, 20)]
    public void Share_IsTheQuotaOverTheInstances_RoundedUp_AtLeastOne(int quota, int instances, int expected) =>
        Assert.AreEqual(expected, TenantRateLimiter.Share(quota, instances));

    [TestMethod]
    public void RouterInstances_CountOnlyLiveActiveRows_AndNeverBelowOne()
    {
        var instances = new RouterInstances();
        Assert.AreEqual(1, instances.Count, "before the first beat is read");

        instances.Update([Row("a", Now), Row("b", Now.AddSeconds(-4)), Row("gone", Now.AddMinutes(-5)), Row("stopped", Now, ShardStates.Stopped)], Now);
        Assert.AreEqual(2, instances.Count);

        instances.Update([], Now);
        Assert.AreEqual(1, instances.Count);
    }

    [TestMethod]
    public void WithTwoInstances_EachAdmitsHalfTheBurst()
    {
        var instances = new RouterInstances();
        instances.Update([Row("a", Now), Row("b", Now)], Now);
        using var limiter = new TenantRateLimiter(1000, instances);
        using var alone = new TenantRateLimiter(1000, instances: null);
        var tenant = new Tenant("acme", 2, 40);

        Assert.AreEqual(20, Admitted(limiter, tenant), "a one-second burst of 40 / 2 instances");
        Assert.AreEqual(40, Admitted(alone, tenant), "the whole quota without instances");
    }

    [TestMethod]
    public void OverQuota_IsRateLimited_WithItsRetryAfter()
    {
        var error = TenantRateLimiter.OverQuota(new Tenant("acme", 2), 3);
        Assert.AreEqual(Serverless.Core.Serving.ServingErrorCode.RateLimited, error.Code);
        Assert.AreEqual(TimeSpan.FromSeconds(3), error.RetryAfter);
        StringAssert.Contains(error.Message, "'acme' is over its request quota");
    }

    private static int Admitted(TenantRateLimiter limiter, Tenant tenant)
    {
        var admitted = 0;
        for (var i = 0; i < 200; i++)
        {
            if (limiter.TryAcquire(tenant) is null)
            {
                admitted++;
            }
        }

        return admitted;
    }

    private static ShardEntity Row(string id, DateTimeOffset beat, string state = ShardStates.Active) => new()
    {
        PartitionKey = RouterInstances.Pool,
        RowKey = id,
        BaseUrl = "https://router.invalid",
        State = state,
        LastHeartbeat = beat,
        HeartbeatSeconds = RouterInstances.HeartbeatSeconds,
    };
}
