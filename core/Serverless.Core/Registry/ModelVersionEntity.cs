using Azure;
using Azure.Data.Tables;

namespace Serverless.Core.Registry;

/// <summary>
/// A row of Table <c>models</c>: PK <c>{tenant}~{model}</c>; RK a version, or <c>@alias</c> for an
/// alias whose <see cref="Version"/> names the version it points at.
/// </summary>
public sealed class ModelVersionEntity : ITableEntity
{
    public const string AliasPrefix = "@";

    public string PartitionKey { get; set; } = "";

    public string RowKey { get; set; } = "";

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string Tenant { get; set; } = "";

    public string Model { get; set; } = "";

    public string Version { get; set; } = "";

    public string State { get; set; } = "";

    /// <summary>Why the version was rejected; empty otherwise.</summary>
    public string Error { get; set; } = "";

    public long SizeBytes { get; set; }

    /// <summary>SHA-256 of the served bytes (hex), which is also part of their immutable blob name.</summary>
    public string Sha256 { get; set; } = "";

    /// <summary>Name of the served bytes in container <c>models</c>.</summary>
    public string BlobName { get; set; } = "";

    /// <summary>Inputs as JSON (<see cref="TensorMetadata"/>[]).</summary>
    public string Inputs { get; set; } = "[]";

    /// <summary>Outputs as JSON (<see cref="TensorMetadata"/>[]).</summary>
    public string Outputs { get; set; } = "[]";

    /// <summary>The shard pool that serves it: <c>cpu</c> or <c>gpu</c>.</summary>
    public string Pool { get; set; } = "cpu";

    public DateTimeOffset PublishedAt { get; set; }

    /// <summary>From model.json: what the model does.</summary>
    public string Description { get; set; } = "";

    /// <summary>From model.json: labels as a JSON object.</summary>
    public string Labels { get; set; } = "";

    /// <summary>From model.json: the largest batch; 0 when not given.</summary>
    public int MaxBatch { get; set; }

    /// <summary>From model.json: the most bytes of output tensors one run may answer; 0 = the shard's default.</summary>
    public long MaxOutputBytes { get; set; }

    /// <summary>From model.json: dynamic batching's window in microseconds; 0 = no batching.</summary>
    public int BatchMaxQueueDelayUs { get; set; }

    /// <summary>From model.json: the rows at which a batch runs without waiting for the window to close.</summary>
    public int BatchPreferredSize { get; set; }

    /// <summary>
    /// SHA-256 of the last file dropped for this version when it was refused without replacing the row
    /// (different bytes for a Ready version), so the one who dropped it can see why.
    /// </summary>
    public string DropSha256 { get; set; } = "";

    /// <summary>Why the drop named by <see cref="DropSha256"/> was refused.</summary>
    public string DropError { get; set; } = "";

    public bool IsAlias => RowKey.StartsWith(AliasPrefix, StringComparison.Ordinal);
}
