using System.Collections.Concurrent;
using System.Globalization;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Serverless.Core.Concurrency;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.Core.Storage;
using Serverless.Core.Tenancy;

namespace Serverless.Publishing;

/// <summary>
/// Per-tenant publish limits: models, versions per model, and stored bytes (Ready and Retired versions count;
/// Rejected ones store nothing). The tenant's row may set its own (<c>tenant limits</c>); 0 there means the
/// publisher's default (<see cref="PublisherOptions"/>). A publish over a limit becomes a <c>Rejected</c> row
/// naming the limit, before ONNX Runtime ever opens the file.
/// </summary>
/// <remarks>
/// The versions of one model are counted exactly, from its one partition, on every publish. The tenant's model
/// count and bytes need a scan of all its partitions, so they are read at most once per <see cref="UsageLifetime"/>
/// per tenant and kept up to date with this process's own publishes in between: a limit can be passed by what
/// other publisher instances store within that minute and the next scan, never by more (docs/reliability.md,
/// "Publish limits"). Only a tenant's first scan is waited for; later ones run behind the publishes, paced
/// (<see cref="PacedTableScan"/>).
/// </remarks>
public sealed class TenantPublishLimits
{
    /// <summary>How long a tenant's counted usage (models, bytes) and its limits are used before they are read again.</summary>
    public static readonly TimeSpan UsageLifetime = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A tenant's usage is read again no sooner than this many times its last scan took: in Azurite a scan of 100,000
    /// models' rows costs the emulator's one thread tens of seconds (each page tests every row of the table), and once a
    /// minute it would take most of it from the publishes themselves (issue 17). At most 1/20 of the time scanning.
    /// </summary>
    private const int ScanCostMultiple = 20;

    private readonly StorageClients _storage;
    private readonly PublisherOptions _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Usage> _usage = new(StringComparer.Ordinal);
    private readonly SingleFlight<string, Usage> _scans = new(StringComparer.Ordinal);

    public TenantPublishLimits(StorageClients storage, IOptions<PublisherOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _storage = storage;
        _options = options.Value;
        _time = time;
    }

    /// <summary>
    /// <c>Refusal</c> null when a new version of <paramref name="sizeBytes"/> may be stored, else why not, naming the
    /// limit; <c>NewModel</c> true when the model has no stored version yet.
    /// </summary>
    /// <remarks><paramref name="modelRows"/> are the model's rows as the caller has just read them from storage (its one partition).</remarks>
    public async Task<(string? Refusal, bool NewModel)> CheckAsync(string tenant, string model, string version, long sizeBytes, IReadOnlyList<ModelVersionEntity> modelRows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(modelRows);
        var usage = await UsageAsync(tenant, cancellationToken).ConfigureAwait(false);
        var versions = 0;
        var modelExists = false;
        foreach (var row in modelRows)
        {
            if (!row.IsAlias && row.RowKey != version && Stores(row.State))
            {
                versions++;
                modelExists = true;
            }
        }

        var maxVersions = usage.MaxVersionsPerModel > 0 ? usage.MaxVersionsPerModel : _options.DefaultMaxVersionsPerModel;
        if (versions >= maxVersions)
        {
            return (string.Create(CultureInfo.InvariantCulture, $"model '{model}' has {versions:N0} versions, the limit of tenant '{tenant}' ({maxVersions:N0} versions per model; {LimitSource(usage.MaxVersionsPerModel, nameof(PublisherOptions.DefaultMaxVersionsPerModel))}): retire and delete old versions first"), false);
        }

        var maxModels = usage.MaxModels > 0 ? usage.MaxModels : _options.DefaultMaxModelsPerTenant;
        if (!modelExists && usage.Models >= maxModels)
        {
            return (string.Create(CultureInfo.InvariantCulture, $"tenant '{tenant}' has {usage.Models:N0} models, its limit ({maxModels:N0} models; {LimitSource(usage.MaxModels, nameof(PublisherOptions.DefaultMaxModelsPerTenant))}): delete a model first"), true);
        }

        var maxBytes = usage.MaxTotalBytes > 0 ? usage.MaxTotalBytes : _options.DefaultMaxBytesPerTenant;
        if (usage.Bytes + sizeBytes > maxBytes)
        {
            return (string.Create(CultureInfo.InvariantCulture, $"storing this version ({sizeBytes:N0} bytes) would take tenant '{tenant}' to {usage.Bytes + sizeBytes:N0} bytes of models, over its limit of {maxBytes:N0} bytes ({LimitSource(usage.MaxTotalBytes, nameof(PublisherOptions.DefaultMaxBytesPerTenant))}): delete versions first"), !modelExists);
        }

        return (null, !modelExists);
    }

    /// <summary>Counts a version this process has just stored, until the tenant's usage is read again.</summary>
    public void Stored(string tenant, bool newModel, long sizeBytes)
    {
        if (_usage.TryGetValue(tenant, out var usage))
        {
            usage.Add(newModel, sizeBytes);
        }
    }

    /// <summary>True when a version in this state keeps its bytes stored and counts against the limits.</summary>
    public static bool Stores(string? state) => state is ModelStates.Ready or ModelStates.Retired;

    private static string LimitSource(long tenantValue, string setting) =>
        tenantValue > 0 ? "set on the tenant; `serverless tenant limits` changes it" : $"the default, Publisher__{setting}";

    private async Task<Usage> UsageAsync(string tenant, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_usage.TryGetValue(tenant, out var known) && now - known.ReadAt < known.ValidFor)
        {
            return known;
        }

        // One scan per tenant at a time: the publishes of a folder arrive together, and each scan reads every row of the
        // tenant (100,000 models: two hundred pages, paced), so without this each concurrent publish would start its own.
        var scan = _scans.JoinOrStart(tenant, this, static (t, self) => self.ScanUsageAsync(t, CancellationToken.None));
        if (known is not null)
        {
            // Counted before, with this process's publishes since: used while the scan reads it again, so publishes do not
            // stop for the scan (minutes at 100,000 models in Azurite). Other instances' publishes are seen a scan later.
            _ = scan.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return known;
        }

        return await scan.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<Usage> ScanUsageAsync(string tenant, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var scanStarted = System.Diagnostics.Stopwatch.GetTimestamp();

        var limits = (await _storage.TenantsTable.GetEntityIfExistsAsync<TenantEntity>(tenant, TenantEntity.RowKeyValue, cancellationToken: cancellationToken).ConfigureAwait(false)) is { HasValue: true } row
            ? row.Value!
            : new TenantEntity();
        var models = 0L;
        var bytes = 0L;
        string? lastModel = null;
        // The tenant's partitions are "{tenant}~{model}"; '~' sorts below DEL (0x7F), so this range is exactly them.
        // A $select returns only the properties it names: the keys must be named too.
        var from = tenant + "~";
        var to = tenant + "\u007f";
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {from} and PartitionKey lt {to}");
        await foreach (var version in PacedTableScan.ReadAsync(
            token => _storage.ModelsTable.QueryAsync<TableEntity>(
                filter,
                select: [nameof(ITableEntity.PartitionKey), nameof(ITableEntity.RowKey), nameof(ModelVersionEntity.State), nameof(ModelVersionEntity.SizeBytes)],
                cancellationToken: token),
            _time,
            cancellationToken).ConfigureAwait(false))
        {
            if (version.RowKey.StartsWith('@') || !Stores(version.GetString(nameof(ModelVersionEntity.State))))
            {
                continue;
            }

            bytes += version.GetInt64(nameof(ModelVersionEntity.SizeBytes)) ?? 0;
            if (version.PartitionKey != lastModel)
            {
                models++;
                lastModel = version.PartitionKey;
            }
        }

        var scanTook = System.Diagnostics.Stopwatch.GetElapsedTime(scanStarted);
        var validFor = TimeSpan.FromTicks(Math.Max(UsageLifetime.Ticks, scanTook.Ticks * ScanCostMultiple));
        var usage = new Usage(now, validFor, limits.MaxModels, limits.MaxVersionsPerModel, limits.MaxTotalBytes, models, bytes);
        _usage[tenant] = usage;
        return usage;
    }

    /// <summary>A tenant's limits and counted usage as read at <see cref="ReadAt"/>, plus this process's publishes since.</summary>
    private sealed class Usage(DateTimeOffset readAt, TimeSpan validFor, int maxModels, int maxVersionsPerModel, long maxTotalBytes, long models, long bytes)
    {
        private long _models = models;
        private long _bytes = bytes;

        public DateTimeOffset ReadAt { get; } = readAt;

        /// <summary>How long after <see cref="ReadAt"/> it is used: <see cref="UsageLifetime"/>, longer for a scan that took long.</summary>
        public TimeSpan ValidFor { get; } = validFor;

        public int MaxModels { get; } = maxModels;

        public int MaxVersionsPerModel { get; } = maxVersionsPerModel;

        public long MaxTotalBytes { get; } = maxTotalBytes;

        public long Models => Interlocked.Read(ref _models);

        public long Bytes => Interlocked.Read(ref _bytes);

        public void Add(bool newModel, long sizeBytes)
        {
            if (newModel)
            {
                Interlocked.Increment(ref _models);
            }

            Interlocked.Add(ref _bytes, sizeBytes);
        }
    }
}
