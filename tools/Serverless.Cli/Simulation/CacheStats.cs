namespace Serverless.Cli.Simulation;

/// <summary>
/// Hit rate of per-shard LRU session caches of <see cref="CacheModels"/> models replaying a sampled request
/// stream; each shard's first 10% of requests warm its cache and are not counted.
/// </summary>
internal sealed record CacheStats(int CacheModels, int Requests, int CountedRequests, double HitRate, DistributionStats HitRatePerShard);
