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

    /// <summary>Why the row exists (e.g. "scale", "pin"), for <c>serverless placement</c>.</summary>
    public string Reason { get; set; } = "";
}
