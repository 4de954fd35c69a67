using Azure;
using Azure.Data.Tables;

namespace Serverless.Core.Tenancy;

/// <summary>A row of Table <c>tenants</c>: PK tenant, RK <see cref="RowKeyValue"/>.</summary>
public sealed class TenantEntity : ITableEntity
{
    public const string RowKeyValue = "tenant";

    public string PartitionKey { get; set; } = "";

    public string RowKey { get; set; } = RowKeyValue;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>Salted SHA-256 hashes of the tenant's API keys, <c>salt:hash</c> in hex, separated by ';'. Never the keys.</summary>
    public string KeyHashes { get; set; } = "";

    /// <summary>The size k of the tenant's shuffle shard.</summary>
    public int ShuffleShardSize { get; set; } = PlacementDefaults.ShuffleShardSize;

    /// <summary>The tenant's request quota at the router (requests per second); 0 = the platform default.</summary>
    public int RequestsPerSecond { get; set; }

    /// <summary>Models the tenant may have published (Ready or Retired versions); 0 = the publisher's default.</summary>
    public int MaxModels { get; set; }

    /// <summary>Versions one model may have (Ready or Retired); 0 = the publisher's default.</summary>
    public int MaxVersionsPerModel { get; set; }

    /// <summary>Bytes of model files the tenant may have stored (Ready or Retired versions); 0 = the publisher's default.</summary>
    public long MaxTotalBytes { get; set; }
}
