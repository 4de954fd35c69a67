namespace Serverless.Cli.Simulation;

/// <summary>Everything <c>serverless simulate</c> measured. All but <see cref="Timings"/> is fixed by the options and seed.</summary>
internal sealed record SimulationReport
{
    public required SimulationOptions Options { get; init; }

    public required IReadOnlyList<string> ShardIds { get; init; }

    /// <summary>Model replicas per shard before per-model scaling.</summary>
    public required DistributionStats ModelsPerShard { get; init; }

    public required DistributionStats ModelsPerShardAfterScaling { get; init; }

    /// <summary>Requests per second per shard before per-model scaling.</summary>
    public required DistributionStats LoadBefore { get; init; }

    public required DistributionStats LoadAfter { get; init; }

    /// <summary>Requests per second of each shard, by shard index, before per-model scaling.</summary>
    public required IReadOnlyList<double> ShardLoadBefore { get; init; }

    public required IReadOnlyList<double> ShardLoadAfter { get; init; }

    public required ScalingStats Scaling { get; init; }

    public required MovementStats ShardAdded { get; init; }

    public required MovementStats ShardRemoved { get; init; }

    public required BlastRadiusStats BlastRadius { get; init; }

    public required CacheStats CacheBefore { get; init; }

    public required CacheStats CacheAfter { get; init; }

    /// <summary>Calls to <c>RendezvousPlacement.SelectReplicas</c> made.</summary>
    public required long PlacementCalls { get; init; }

    public IReadOnlyList<PhaseTiming> Timings { get; init; } = [];

    public double TotalSeconds { get; init; }
}
