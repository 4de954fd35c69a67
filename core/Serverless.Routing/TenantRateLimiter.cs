using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Serverless.Core.Tenancy;

namespace Serverless.Routing;

/// <summary>
/// Per-tenant request quotas at the router: a token bucket per tenant (its quota per second, refilled
/// every 100 ms, a one-second burst), so a flooding tenant gets 429 with Retry-After while the others
/// keep their share of the router and of the shards. A bucket keeps the quota it was made with until
/// the tenant has been idle for a while.
/// </summary>
public sealed class TenantRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<Tenant> _limiter;

    public TenantRateLimiter(IOptions<RouterOptions> options)
    {
        var fallback = options.Value.DefaultTenantRequestsPerSecond;
        _limiter = PartitionedRateLimiter.Create<Tenant, string>(tenant =>
        {
            var perSecond = tenant.RequestsPerSecond > 0 ? tenant.RequestsPerSecond : fallback;
            return RateLimitPartition.GetTokenBucketLimiter(tenant.Name, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = perSecond,
                TokensPerPeriod = Math.Max(1, perSecond / 10),
                ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
                QueueLimit = 0,
                AutoReplenishment = true,
            });
        });
    }

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

    public void Dispose() => _limiter.Dispose();
}
