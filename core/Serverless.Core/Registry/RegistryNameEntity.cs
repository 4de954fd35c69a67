using Azure;
using Azure.Data.Tables;

namespace Serverless.Core.Registry;

/// <summary>A row of Table <c>registrynames</c>: model names one registry change (or several coalesced) touched.</summary>
public sealed class RegistryNameEntity : ITableEntity
{
    /// <summary>The tenant.</summary>
    public string PartitionKey { get; set; } = "";

    /// <summary>When it was written, by the writer's clock (<c>{UtcTicks:D19}-{random}</c>): rows sort by time.</summary>
    public string RowKey { get; set; } = "";

    /// <summary>The model names, one per line.</summary>
    public string Names { get; set; } = "";

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }
}
