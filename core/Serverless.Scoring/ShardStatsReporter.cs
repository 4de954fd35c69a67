using Microsoft.Extensions.Options;
using Serverless.Scoring;
using Serverless.Core.Sharding;
using Serverless.Core.Observability;

namespace Serverless.Scoring;

/// <summary>A shard's <see cref="ShardStats"/> from its session cache and the cache counters' totals.</summary>
public sealed class ShardStatsReporter
{
    private readonly SessionCache _cache;
    private readonly ShardMeterTotals _totals;
    private readonly ShardOptions _options;
    private readonly DateTimeOffset _startedAt;

    public ShardStatsReporter(SessionCache cache, ShardMeterTotals totals, IOptions<ShardOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        _cache = cache;
        _totals = totals;
        _options = options.Value;
        _startedAt = time.GetUtcNow();
    }

    public ShardStats Current() => new(
        _options.Id,
        _options.Pool,
        _cache.ResidentBytes,
        _options.CacheBytes,
        _cache.Count,
        _totals.Hits,
        _totals.Misses,
        _totals.Evictions,
        _totals.Loads,
        _totals.MeanLoadMs,
        _startedAt);
}
