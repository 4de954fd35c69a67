using Serverless.Core.Placement;

namespace Serverless.Cli.Simulation;

/// <summary>The synthetic fleet <c>serverless simulate</c> places, and what it measures.</summary>
internal sealed record SimulationOptions
{
    /// <summary>Models in the fleet; model i belongs to tenant i mod <see cref="Tenants"/>.</summary>
    public int Models { get; init; } = 300_000;

    public int Tenants { get; init; } = 5_000;

    /// <summary>Live shards, named <c>shard-00 … shard-(N-1)</c>.</summary>
    public int Shards { get; init; } = 64;

    /// <summary>Every tenant's shuffle shard size k.</summary>
    public int K { get; init; } = 3;

    /// <summary>Replicas R per model before per-model scaling.</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>Zipf exponent s of request popularity over models (rank r gets weight 1/r^s).</summary>
    public double Zipf { get; init; } = 1.1;

    /// <summary>Total request rate of the fleet, requests per second.</summary>
    public double Rps { get; init; } = 1_000_000;

    /// <summary>Models one shard's session cache holds (LRU).</summary>
    public int CacheModels { get; init; } = 2_000;

    /// <summary>Requests sampled from the zipf distribution and replayed through the per-shard caches.</summary>
    public int CacheRequests { get; init; } = 2_000_000;

    /// <summary>Requests per second one replica should carry (<see cref="ScalingOptions.RequestsPerReplica"/>).</summary>
    public double RequestsPerReplica { get; init; } = 2_000;

    /// <summary>The most replicas a model can get (<see cref="ScalingOptions.MaxReplicas"/>; its default).</summary>
    public int MaxReplicas { get; init; } = new ScalingOptions().MaxReplicas;

    /// <summary>Tenants taken as the bad tenant in the blast-radius measurement (all when at least <see cref="Tenants"/>).</summary>
    public int BlastSample { get; init; } = 5_000;

    public int Seed { get; init; } = 42;

    /// <summary>Null when the options are usable, else what is wrong.</summary>
    public string? Validate() =>
        Models < 1 ? "--models must be at least 1"
        : Tenants < 1 ? "--tenants must be at least 1"
        : Shards < 2 ? "--shards must be at least 2 (one is removed to measure movement)"
        : Shards > 4096 ? "--shards must be at most 4096"
        : K < 1 ? "--k must be at least 1"
        : Replicas < 1 ? "--replicas must be at least 1"
        : !(Zipf >= 0) || double.IsInfinity(Zipf) ? "--zipf must be a finite number of at least 0"
        : !(Rps > 0) || double.IsInfinity(Rps) ? "--rps must be a positive number"
        : CacheModels < 1 ? "--cache-models must be at least 1"
        : CacheRequests < 0 ? "--cache-requests must be at least 0"
        : !(RequestsPerReplica >= 0.001) || double.IsInfinity(RequestsPerReplica) ? "--requests-per-replica must be at least 0.001"
        : MaxReplicas is < 1 or > 256 ? "--max-replicas must be between 1 and 256"
        : BlastSample < 1 ? "--blast-sample must be at least 1"
        : null;
}
