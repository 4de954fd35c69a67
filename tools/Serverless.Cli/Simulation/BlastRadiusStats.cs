namespace Serverless.Cli.Simulation;

/// <summary>
/// For each sampled "bad" tenant, the share of the other tenants whose shuffle shard overlaps its own at
/// all, and the share whose shuffle shard it covers completely (all k shards in common): mean and max
/// over the sample, next to the arithmetic 1 - C(N-k,k)/C(N,k) and 1/C(N,k).
/// </summary>
internal sealed record BlastRadiusStats(
    int SampledTenants,
    double OverlapAnyMean,
    double OverlapAnyMax,
    double FullCoverMean,
    double FullCoverMax,
    int TenantsWithFullTwin,
    double ExpectedOverlapAny,
    double ExpectedFullCover,
    double Combinations);
