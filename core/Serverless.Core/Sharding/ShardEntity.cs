using Azure;
using Azure.Data.Tables;

namespace Serverless.Core.Sharding;

/// <summary>A row of Table <c>shards</c>: PK pool, RK shard id.</summary>
public sealed class ShardEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "cpu";

    public string RowKey { get; set; } = "";

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string BaseUrl { get; set; } = "";

    public string State { get; set; } = ShardStates.Active;

    public DateTimeOffset LastHeartbeat { get; set; }

    /// <summary>How often this shard beats (seconds); readers pass it over after <see cref="ShardDirectory.MissedHeartbeats"/> missed beats.</summary>
    public int HeartbeatSeconds { get; set; }

    /// <summary>The models this shard served most recently, <c>{tenant}~{model}</c> comma-separated, hottest first: what a new instance prewarms.</summary>
    public string HotModels { get; set; } = "";
}
