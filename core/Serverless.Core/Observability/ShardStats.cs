namespace Serverless.Core.Observability;

/// <summary>
/// What a shard reports about itself at <c>GET /internal/stats</c> (the router's dashboard reads it):
/// its session cache and the requests it served since it started.
/// </summary>
public sealed record ShardStats(
    string Shard,
    string Pool,
    long ResidentBytes,
    long CacheBytes,
    int Sessions,
    long Hits,
    long Misses,
    long Evictions,
    long Loads,
    double MeanLoadMs,
    DateTimeOffset StartedAt);
