using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;

namespace Serverless.Core.Storage;

/// <summary>
/// The Azure SDK clients for the platform's containers and tables, built once per process from
/// <see cref="StorageOptions"/>. The SDK clients are thread-safe and meant to be shared.
/// </summary>
public sealed class StorageClients
{
    // The process's storage meter, living as long as the clients (one set per process).
    private readonly System.Diagnostics.Metrics.Meter _meter = new(StorageReadCounter.MeterName);

    public StorageClients(IOptions<StorageOptions> options)
    {
        var o = options.Value;
        RequestWait = TimeSpan.FromMilliseconds(o.RequestWaitMilliseconds);
        // Azurite 3.35 rejects the newest service version the SDK sends; pin one both sides know.
        var blobOptions = new BlobClientOptions(BlobClientOptions.ServiceVersion.V2025_11_05);
        var tableOptions = new TableClientOptions();
        tableOptions.AddPolicy(new StorageReadCounter(_meter), Azure.Core.HttpPipelinePosition.PerRetry);
        ConfigureRetry(blobOptions.Retry);
        ConfigureRetry(tableOptions.Retry);
        if (!string.IsNullOrWhiteSpace(o.ConnectionString))
        {
            Blobs = new BlobServiceClient(o.ConnectionString, blobOptions);
            Tables = new TableServiceClient(o.ConnectionString, tableOptions);
        }
        else
        {
            var credential = new DefaultAzureCredential();
            Blobs = new BlobServiceClient(o.BlobServiceUri, credential, blobOptions);
            Tables = new TableServiceClient(o.TableServiceUri, credential, tableOptions);
        }

        Models = Blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        Drop = Blobs.GetBlobContainerClient(StorageNames.DropContainer);
        ModelsTable = Tables.GetTableClient(StorageNames.ModelsTable);
        PlacementsTable = Tables.GetTableClient(StorageNames.PlacementsTable);
        ShardsTable = Tables.GetTableClient(StorageNames.ShardsTable);
        TenantsTable = Tables.GetTableClient(StorageNames.TenantsTable);
        RegistryEpochsTable = Tables.GetTableClient(StorageNames.RegistryEpochsTable);
        RegistryNamesTable = Tables.GetTableClient(StorageNames.RegistryNamesTable);
        AuditTable = Tables.GetTableClient(StorageNames.AuditTable);
    }

    /// <summary>
    /// Exponential backoff with the SDK's jitter: 0.2, 0.4, 0.8 s (at most 2 s) between 3 retries. The SDK's
    /// default (0.8 s doubling) would hold a request for ~6 s on every read while storage is away; with this, a
    /// failed read gives up within ~1.5 s and the request path falls back on what it last knew
    /// (<see cref="LastKnownGoodCache"/>), while publishing and loads retry on their own schedule.
    /// </summary>
    private static void ConfigureRetry(Azure.Core.RetryOptions retry)
    {
        retry.Mode = Azure.Core.RetryMode.Exponential;
        retry.MaxRetries = 3;
        retry.Delay = TimeSpan.FromMilliseconds(200);
        retry.MaxDelay = TimeSpan.FromSeconds(2);
    }

    /// <summary>The process's memory of a storage outage, shared by every <see cref="LastKnownGoodCache"/> reading through these clients.</summary>
    public StorageOutageBreaker OutageBreaker { get; } = new();

    /// <summary>How long a request waits on a read nothing stands in for (<see cref="StorageOptions.RequestWaitMilliseconds"/>).</summary>
    public TimeSpan RequestWait { get; }

    public BlobServiceClient Blobs { get; }

    public TableServiceClient Tables { get; }

    public BlobContainerClient Models { get; }

    public BlobContainerClient Drop { get; }

    public TableClient ModelsTable { get; }

    public TableClient PlacementsTable { get; }

    public TableClient ShardsTable { get; }

    public TableClient TenantsTable { get; }

    public TableClient RegistryEpochsTable { get; }

    /// <summary>The model names each tenant's registry changes touched (<see cref="Registry.RegistryNameFeed"/>).</summary>
    public TableClient RegistryNamesTable { get; }

    /// <summary>The audit log of lifecycle commands and repairs.</summary>
    public TableClient AuditTable { get; }

    /// <summary>
    /// Creates every container and table the platform uses (<see cref="StorageNames.Containers"/>,
    /// <see cref="StorageNames.Tables"/>: the lists the Bicep is checked against); safe to call again.
    /// </summary>
    public async Task EnsureCreatedAsync(CancellationToken cancellationToken)
    {
        foreach (var container in StorageNames.Containers)
        {
            await Blobs.GetBlobContainerClient(container).CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        foreach (var table in StorageNames.Tables)
        {
            await Tables.GetTableClient(table).CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
