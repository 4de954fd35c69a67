using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Observability;
using Serverless.Core.Storage;

namespace Serverless.Core.Registry;

/// <summary>
/// The registry in figures for the dashboard, without holding it: one pass streams the version rows (keys, state and
/// publish time only, 1,000 a read, <see cref="RegistryCensusOptions.MaxRowsPerPass"/> at most) and keeps counts per
/// tenant and a bounded heap of the newest publishes, so memory grows with tenants, not models; the newest are then
/// read in full by point reads. Passes run in the background, one at a time, only when a dashboard asks, and no
/// sooner than <see cref="RegistryCensusOptions.IdleFactor"/> times the last pass's duration after it: a viewer gets
/// the last completed figures at once, however large the registry.
/// </summary>
public sealed partial class RegistryCensus : IDisposable
{
    private static readonly string[] Columns = [nameof(ITableEntity.PartitionKey), nameof(ITableEntity.RowKey), nameof(ModelVersionEntity.State), nameof(ModelVersionEntity.PublishedAt)];
    private static readonly string[] DetailColumns = ["Tenant", "Model", "Version", "State", "Error", "DropError", "SizeBytes", "PublishedAt"];

    private readonly StorageClients _storage;
    private readonly TimeProvider _time;
    private readonly RegistryCensusOptions _options;
    private readonly ILogger<RegistryCensus> _logger;
    private readonly Lock _lock = new();

    // Passes outlive the request that started them (another viewer will want the figures): cancelled only on dispose.
    private readonly CancellationTokenSource _stopping = new();
    private Task<RegistryCensusResult?>? _pass;
    private RegistryCensusResult? _latest;
    private long _nextPassAt;
    private long _passes;

    public RegistryCensus(StorageClients storage, TimeProvider time, IOptions<RegistryCensusOptions> options, ILogger<RegistryCensus> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _storage = storage;
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Passes completed so far.</summary>
    public long Passes => Interlocked.Read(ref _passes);

    /// <summary>
    /// The last completed figures, starting a pass behind them when they are due; on the very first call, waits for the
    /// first pass up to <see cref="RegistryCensusOptions.FirstPassWaitMilliseconds"/>. Null when there are none yet.
    /// </summary>
    public async Task<RegistryCensusResult?> GetAsync(CancellationToken cancellationToken)
    {
        var pass = StartIfDue();
        var latest = Volatile.Read(ref _latest);
        if (latest is not null || pass is null)
        {
            return latest;
        }

        try
        {
            return await pass.WaitAsync(TimeSpan.FromMilliseconds(_options.FirstPassWaitMilliseconds), _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    /// <summary>
    /// Runs a pass now (or joins the one running) and returns its figures, null when storage failed it: tests, and a
    /// caller that must be current.
    /// </summary>
    public Task<RegistryCensusResult?> RefreshAsync()
    {
        lock (_lock)
        {
            return _pass ??= RunAsync();
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private Task<RegistryCensusResult?>? StartIfDue()
    {
        lock (_lock)
        {
            if (_pass is not null)
            {
                return _pass;
            }

            if (_latest is not null && _time.GetTimestamp() < _nextPassAt)
            {
                return null;
            }

            return _pass = RunAsync();
        }
    }

    /// <summary>A pass that never throws for storage's failures (it runs unobserved): null then, and the figures stay as they were.</summary>
    private async Task<RegistryCensusResult?> RunAsync()
    {
        // Off the caller's path: the pass never runs on a request's thread up to its first await.
        await Task.Yield();
        var started = _time.GetTimestamp();
        try
        {
            var result = await PassAsync(_stopping.Token).ConfigureAwait(false);
            Volatile.Write(ref _latest, result);
            Interlocked.Increment(ref _passes);
            return result;
        }
        catch (Exception e) when (e is Azure.RequestFailedException or OperationCanceledException || StorageFaults.IsTransient(e, CancellationToken.None))
        {
            LogPassFailed(e.Message);
            return null;
        }
        finally
        {
            var took = _time.GetElapsedTime(started);
            var wait = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(_options.MinIntervalSeconds).Ticks, took.Ticks * _options.IdleFactor));
            lock (_lock)
            {
                _nextPassAt = _time.GetTimestamp() + (long)(wait.TotalSeconds * _time.TimestampFrequency);
                _pass = null;
            }
        }
    }

    private async Task<RegistryCensusResult> PassAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var since = _time.GetUtcNow() - TimeSpan.FromDays(_options.PublishLookbackDays);
        var tenants = new Dictionary<string, TenantCounts>(StringComparer.Ordinal);
        // A min-heap by publish time holding the newest N seen so far: the oldest of them leaves when a newer one comes.
        var newest = new PriorityQueue<(string PartitionKey, string RowKey), DateTimeOffset>();
        long rows = 0, published = 0;
        var capped = false;
        string? lastPartition = null;
        // Versions only (every version starts with a digit, every alias with '@'): filtered by storage, not here.
        var filter = TableClient.CreateQueryFilter($"RowKey lt {ModelVersionEntity.AliasPrefix}");
        await foreach (var page in _storage.ModelsTable.QueryAsync<TableEntity>(filter, maxPerPage: ModelListQuery.MaxLimit, select: Columns, cancellationToken: cancellationToken)
            .AsPages(pageSizeHint: ModelListQuery.MaxLimit).ConfigureAwait(false))
        {
            foreach (var row in page.Values)
            {
                var tilde = row.PartitionKey.IndexOf('~', StringComparison.Ordinal);
                var tenant = tilde < 0 ? row.PartitionKey : row.PartitionKey[..tilde];
                if (!tenants.TryGetValue(tenant, out var counts))
                {
                    tenants[tenant] = counts = new TenantCounts();
                }

                // Rows come in key order: a model's versions are together, so a new partition is a new model.
                if (!string.Equals(row.PartitionKey, lastPartition, StringComparison.Ordinal))
                {
                    counts.Models++;
                    lastPartition = row.PartitionKey;
                }

                switch (row.GetString(nameof(ModelVersionEntity.State)))
                {
                    case ModelStates.Ready: counts.Ready++; break;
                    case ModelStates.Rejected: counts.Rejected++; break;
                    case ModelStates.Retired: counts.Retired++; break;
                }

                if (row.GetDateTimeOffset(nameof(ModelVersionEntity.PublishedAt)) is { } at && at >= since)
                {
                    published++;
                    if (newest.Count < _options.RecentPublishes)
                    {
                        newest.Enqueue((row.PartitionKey, row.RowKey), at);
                    }
                    else if (newest.TryPeek(out _, out var oldest) && at > oldest)
                    {
                        newest.EnqueueDequeue((row.PartitionKey, row.RowKey), at);
                    }
                }

                rows++;
            }

            if (rows >= _options.MaxRowsPerPass)
            {
                capped = true;
                break;
            }
        }

        var recent = await DetailsAsync(newest, cancellationToken).ConfigureAwait(false);
        var top = tenants.OrderByDescending(p => p.Value.Models).ThenBy(p => p.Key, StringComparer.Ordinal).Take(_options.TopTenants)
            .Select(p => new TenantRegistryTotal(p.Key, p.Value.Models, p.Value.Ready, p.Value.Rejected, p.Value.Retired)).ToList();
        var totals = new RegistryTotals(
            _time.GetUtcNow(),
            Math.Round(_time.GetElapsedTime(started).TotalSeconds, 3),
            rows,
            capped,
            tenants.Values.Sum(c => c.Models),
            rows,
            tenants.Values.Sum(c => c.Ready),
            tenants.Values.Sum(c => c.Rejected),
            tenants.Values.Sum(c => c.Retired),
            top,
            tenants.Count - top.Count);
        return new RegistryCensusResult(totals, recent, published);
    }

    /// <summary>The newest publishes in full (reason, size), newest first: one point read each.</summary>
    private async Task<List<PublishRow>> DetailsAsync(PriorityQueue<(string PartitionKey, string RowKey), DateTimeOffset> newest, CancellationToken cancellationToken)
    {
        var keys = new List<(string PartitionKey, string RowKey)>(newest.Count);
        while (newest.TryDequeue(out var key, out _))
        {
            keys.Add(key);
        }

        keys.Reverse();
        var rows = new List<PublishRow>(keys.Count);
        foreach (var (partitionKey, rowKey) in keys)
        {
            var read = await _storage.ModelsTable.GetEntityIfExistsAsync<ModelVersionEntity>(partitionKey, rowKey, DetailColumns, cancellationToken).ConfigureAwait(false);
            if (!read.HasValue || read.Value is not { } row)
            {
                continue; // deleted since the scan
            }

            var error = !string.IsNullOrEmpty(row.Error) ? row.Error : !string.IsNullOrEmpty(row.DropError) ? "drop refused: " + row.DropError : null;
            rows.Add(new PublishRow(row.Tenant, row.Model, row.Version, row.State, error, row.SizeBytes, row.PublishedAt));
        }

        return rows;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Registry census pass failed: {Reason}")]
    private partial void LogPassFailed(string reason);

    private sealed class TenantCounts
    {
        public long Models { get; set; }

        public long Ready { get; set; }

        public long Rejected { get; set; }

        public long Retired { get; set; }
    }
}
