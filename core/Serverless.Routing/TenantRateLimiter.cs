using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Serverless.Core.Serving;
using Serverless.Core.Tenancy;

namespace Serverless.Routing;

/// <summary>
/// Per-tenant request quotas: a token bucket per tenant (its share of the quota per second, refilled every 100 ms,
/// a one-second burst), so a flooding tenant gets 429 with Retry-After while the others keep their share of the
/// router and of the shards. Each router instance applies 1/n of the quota, n being the live router instances
/// (<see cref="RouterInstances"/>), so the quota holds across a scaled-out router; a shard applies it to direct-mode
/// callers on its own (<see cref="DirectCallGate"/>). A bucket is keyed by the tenant and its share, so a new quota
/// or instance count takes effect at once; the buckets left behind are dropped once idle.
/// </summary>
public sealed class TenantRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<Tenant> _limiter;
    private readonly RouterInstances? _instances;

    public TenantRateLimiter(IOptions<RouterOptions> options, RouterInstances instances)
        : this(options.Value.DefaultTenantRequestsPerSecond, instances)
    {
    }

    /// <summary>A limiter applying the whole quota (<paramref name="instances"/> null) or 1/n of it per instance.</summary>
    public TenantRateLimiter(int defaultRequestsPerSecond, RouterInstances? instances)
    {
        _instances = instances;
        _limiter = PartitionedRateLimiter.Create<Tenant, (string Tenant, int PerSecond)>(tenant =>
        {
            var perSecond = Share(tenant.RequestsPerSecond > 0 ? tenant.RequestsPerSecond : defaultRequestsPerSecond, _instances?.Count ?? 1);
            return RateLimitPartition.GetTokenBucketLimiter((Tenant: tenant.Name, PerSecond: perSecond), key => new TokenBucketRateLimiterOptions
            {
                TokenLimit = key.PerSecond,
                TokensPerPeriod = Math.Max(1, key.PerSecond / 10),
                ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
                QueueLimit = 0,
                AutoReplenishment = true,
            });
        });
    }

    /// <summary>One instance's share of a quota: rounded up, at least one request per second.</summary>
    public static int Share(int quota, int instances) => Math.Max(1, (int)Math.Ceiling(quota / (double)Math.Max(1, instances)));

    /// <summary>Null when the request may go on; else the seconds the tenant should wait.</summary>
    public int? TryAcquire(Tenant tenant)
    {
        using var lease = _limiter.AttemptAcquire(tenant);
        if (lease.IsAcquired)
        {
            return null;
        }

        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 1;
    }

    /// <summary>The answer to a request over the tenant's quota.</summary>
    public static ServingError OverQuota(Tenant tenant, int retryAfterSeconds)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        return ServingError.RateLimited($"tenant '{tenant.Name}' is over its request quota; retry after {retryAfterSeconds} s", TimeSpan.FromSeconds(retryAfterSeconds));
    }

    public void Dispose() => _limiter.Dispose();
}
