using Azure;
using Azure.Data.Tables;

namespace Serverless.Core.Registry;

/// <summary>A row of Table <c>registryepochs</c>: the current epoch of one tenant's registry rows.</summary>
public sealed class RegistryEpochEntity : ITableEntity
{
    public const string PartitionKeyValue = "epochs";

    public string PartitionKey { get; set; } = PartitionKeyValue;

    /// <summary>The tenant.</summary>
    public string RowKey { get; set; } = "";

    /// <summary>A new random value on every change to the tenant's registry rows.</summary>
    public string Epoch { get; set; } = "";

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }
}
