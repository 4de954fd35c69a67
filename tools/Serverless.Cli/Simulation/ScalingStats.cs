namespace Serverless.Cli.Simulation;

/// <summary>What per-model scaling (<c>ScalingPolicy</c>) did to the replicas and the hottest shard.</summary>
internal sealed record ScalingStats(
    int ScaledModels,
    int TotalReplicasBefore,
    int TotalReplicasAfter,
    double HottestModelRps,
    int HottestModelReplicas,
    string HottestShardBefore,
    double HottestShardBeforeRps,
    string HottestShardAfter,
    double HottestShardAfterRps);
