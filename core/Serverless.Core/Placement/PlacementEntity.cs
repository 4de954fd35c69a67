using Azure;
using Azure.Data.Tables;

namespace Serverless.Core.Placement;

/// <summary>
/// An explicit placement row in Table <c>placements</c> (PK <c>{tenant}~{model}</c>, RK
/// <see cref="RowKeyValue"/>): only models whose hashed placement is overridden have one.
/// </summary>
public sealed class PlacementEntity : ITableEntity
{
    public const string RowKeyValue = "placement";

    public string PartitionKey { get; set; } = "";

    public string RowKey { get; set; } = RowKeyValue;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>How many replicas the model gets (0 = the default).</summary>
    public int Replicas { get; set; }

    /// <summary>Shard ids pinned explicitly, comma-separated, primary first; empty = by hash.</summary>
    public string Shards { get; set; } = "";

    /// <summary>
    /// Pinned resident (<c>serverless scale MODEL --min-resident</c>): each of the model's replicas keeps its session
    /// loaded, never evicted, prewarmed first when an instance starts, within the shard's pinned budget. Here rather
    /// than on the registry row because it is about where and how a model is served, not what it is: it holds for
    /// every version (the one a request without a version gets), and the shards read all pins with one query of this
    /// small table (a row per overridden model) instead of scanning the registry (a row per version of every model).
    /// </summary>
    public bool MinResident { get; set; }

    /// <summary>Why the row exists (e.g. "scale", "pin"), for <c>serverless placement</c>.</summary>
    public string Reason { get; set; } = "";
}
