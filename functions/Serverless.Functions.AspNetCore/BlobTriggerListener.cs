using System.Text.RegularExpressions;
using System.Threading.Channels;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Storage;

namespace Serverless.Functions.AspNetCore;

/// <summary>
/// Fires a blob-triggered function for each new or changed blob matching its path. Two ways in, as in Azure:
/// an Event Grid <c>BlobCreated</c> event for the blob (<see cref="Notify"/>, from the host's blob webhook)
/// is handled at once without listing anything; and the container is listed now and then, as the Functions
/// host's polling blob trigger does, for blobs nobody announced. A listing costs the storage emulator time in
/// proportion to the blobs in the container (Azurite spent 60% of a core listing a drop of 2,056 models twice a
/// second, stalling every other request for ~200 ms at a time), so listings are spaced at least
/// <see cref="ScanCostMultiple"/> times as long as the last one took, between
/// <see cref="BlobTriggerOptions.ScanIntervalSeconds"/> and <see cref="BlobTriggerOptions.MaxScanIntervalSeconds"/>.
/// A receipt (blob name + ETag; a row of table <see cref="ReceiptsTable"/>) is kept for each blob handled, so a
/// restart does not fire everything again. A failing invocation is retried with exponential backoff (1, 2, 4,
/// 8 s…), up to <see cref="MaxAttempts"/> times; a failure because storage is unreachable does not count as an
/// attempt, so an outage of any length ends with the drop published, not given up on. (The Functions host's
/// blob trigger likewise retries, then gives up to a poison queue; the publisher's own verdicts are Ready or
/// Rejected rows, never exceptions.)
/// Up to <see cref="BlobTriggerOptions.MaxDegreeOfParallelism"/> blobs are handled at once, as the Functions host
/// runs blob-triggered invocations concurrently (host.json <c>extensions.blobs.maxDegreeOfParallelism</c>); one blob
/// is never handled twice at once. One at a time, a folder of 5,000 drops published at 4 a second (issue 17).
/// </summary>
internal sealed partial class BlobTriggerListener : BackgroundService
{
    private const int MaxAttempts = 5;

    /// <summary>A listing is followed by at least this many times its own duration without one (at most 5% of the emulator's time).</summary>
    private const int ScanCostMultiple = 20;
    private static readonly TimeSpan StartRetryInterval = TimeSpan.FromSeconds(2);
    private readonly TimeSpan _scanInterval;
    private readonly TimeSpan _maxScanInterval;
    private readonly TimeSpan _noticeGrace;
    private readonly Channel<string> _notices = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly FunctionInvoker _invoker;
    private readonly IServiceProvider _services;
    private readonly ILogger<BlobTriggerListener> _logger;
    private readonly TimeProvider _time;
    private readonly BlobContainerClient _container;
    private readonly BlobContainerClient _receipts;

    /// <summary>
    /// The receipts, a row per handled blob (<see cref="ReceiptsTable"/>): partition key the blob (<see cref="ReceiptKey"/>),
    /// row key the function and container (<see cref="ReceiptRow"/>). A blob each, as the Functions host keeps them, made
    /// Azurite slower for every blob call (at 10,000 models a third of its blobs were receipts). A partition per blob
    /// because one partition for all of them is a single partition server in Azure (about 2,000 writes a second), and in
    /// Azurite a point write looks its partition up first and scans the rest: one shared partition made each receipt cost
    /// in proportion to the receipts before it (publishing fell from 108 to 45 models/s between 10,000 and 17,000).
    /// Receipts left by earlier versions (as blobs, or rows in the one partition) are still read.
    /// </summary>
    private readonly TableClient _receiptRows;
    private readonly string _prefix;
    private readonly Regex _pattern;
    private readonly Dictionary<string, ETag> _handled = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _retryAt = new(StringComparer.Ordinal);

    /// <summary>Blobs being handled now; a notice for one of them is kept in <see cref="_noticedAgain"/> and handled after.</summary>
    private readonly HashSet<string> _inFlight = new(StringComparer.Ordinal);
    private readonly HashSet<string> _noticedAgain = new(StringComparer.Ordinal);

    /// <summary>Guards the receipt, retry and in-flight state, which concurrent invocations update.</summary>
    private readonly Lock _state = new();
    private readonly SemaphoreSlim _slots;
    private readonly int _maxParallel;
    private int _running;
    private TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public BlobTriggerListener(FunctionMethod function, IServiceProvider services, IConfiguration configuration, IOptions<BlobTriggerOptions> options, TimeProvider time, ILogger<BlobTriggerListener> logger)
    {
        _time = time;
        var trigger = (BlobTriggerAttribute)function.Trigger;
        _scanInterval = TimeSpan.FromSeconds(options.Value.ScanIntervalSeconds);
        _maxScanInterval = TimeSpan.FromSeconds(options.Value.MaxScanIntervalSeconds);
        _noticeGrace = TimeSpan.FromSeconds(options.Value.NoticeGraceSeconds);
        _maxParallel = options.Value.MaxDegreeOfParallelism;
        _slots = new SemaphoreSlim(_maxParallel, _maxParallel);
        _invoker = new FunctionInvoker(function);
        _services = services;
        _logger = logger;
        var connectionName = trigger.Connection ?? "AzureWebJobsStorage";
        var connectionString = configuration[connectionName] ?? configuration.GetConnectionString(connectionName)
            ?? throw new InvalidOperationException($"function '{function.Name}': setting '{connectionName}' (the blob trigger's connection) is not set");
        var client = new BlobServiceClient(connectionString, new BlobClientOptions(BlobClientOptions.ServiceVersion.V2025_11_05));
        var path = trigger.BlobPath;
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        _container = client.GetBlobContainerClient(path[..slash]);
        _receipts = client.GetBlobContainerClient("azure-webjobs-hosts");
        _receiptRows = new TableServiceClient(connectionString).GetTableClient(ReceiptsTable);
        ReceiptRow = $"{function.Name}~{_container.Name}";
        var blobPattern = path[(slash + 1)..];
        _prefix = blobPattern[..blobPattern.IndexOf('{', StringComparison.Ordinal)];
        _pattern = new Regex("^" + Regex.Replace(Regex.Escape(blobPattern).Replace("\\{", "{", StringComparison.Ordinal), "{([A-Za-z0-9_]+)}", "(?<$1>[^/]+)") + "$", RegexOptions.CultureInvariant);
        ReceiptPrefix = $"blobreceipts/local/{function.Name}/{_container.Name}/";
    }

    /// <summary>
    /// A receipt's partition key: the blob name escaped (it may hold '/', '#', '?' or a backslash, which a row key may not),
    /// or its SHA-256 where the escaped name is over a key's 1 KiB (the name itself is kept in the row).
    /// </summary>
    public static string ReceiptKey(string blobName)
    {
        var escaped = Uri.EscapeDataString(blobName);
        return escaped.Length <= 512 ? escaped : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(blobName)));
    }

    /// <summary>The local host's table of blob-trigger receipts (the Functions host's own, as its container is; not in the Bicep).</summary>
    public const string ReceiptsTable = "azurewebjobsreceipts";

    private string ReceiptPrefix { get; }

    /// <summary>A receipt's row key: the function and its container, <c>PublishModel~model-drop</c>.</summary>
    private string ReceiptRow { get; }

    /// <summary>
    /// Takes an Event Grid blob-created event: true when the blob is in this trigger's container (it is then handled
    /// soon, if its name matches the trigger's path and it is new or changed), false when it is not.
    /// </summary>
    public bool Notify(Uri blobUrl)
    {
        ArgumentNullException.ThrowIfNull(blobUrl);
        // Compare paths only: the event may name the storage host differently (localhost, 127.0.0.1, a custom domain).
        var containerPath = _container.Uri.AbsolutePath.TrimEnd('/') + "/";
        var path = blobUrl.AbsolutePath;
        if (!path.StartsWith(containerPath, StringComparison.Ordinal) || path.Length == containerPath.Length)
        {
            return false;
        }

        return _notices.Writer.TryWrite(Uri.UnescapeDataString(path[containerPath.Length..]));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _container.CreateIfNotExistsAsync(cancellationToken: stoppingToken).ConfigureAwait(false);
                await _receipts.CreateIfNotExistsAsync(cancellationToken: stoppingToken).ConfigureAwait(false);
                await _receiptRows.CreateIfNotExistsAsync(stoppingToken).ConfigureAwait(false);
                await LoadReceiptsAsync(stoppingToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogPollFailed(e, _container.Name);
                await Task.Delay(StartRetryInterval, _time, stoppingToken).ConfigureAwait(false);
            }
        }

        // One loop handles both ways in, so the receipts and retry state need no locks.
        var nextScan = _time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            while (_notices.Reader.TryRead(out var blobName))
            {
                await DispatchAsync(blobName, default, null, stoppingToken).ConfigureAwait(false);
            }

            if (_time.GetUtcNow() >= nextScan)
            {
                var started = _time.GetUtcNow();
                var found = false;
                try
                {
                    found = await PollAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Storage briefly away: try again on the next scan.
                    LogPollFailed(e, _container.Name);
                }

                nextScan = _time.GetUtcNow() + NextScanDelay(_time.GetUtcNow() - started, found);
            }

            var wait = nextScan - _time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                // The wait runs on the host's clock, as every other time here does.
                using var due = new CancellationTokenSource(wait, _time);
                using var waiting = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, due.Token);
                try
                {
                    await _notices.Reader.WaitToReadAsync(waiting.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // Time for the next scan.
                }
            }
        }

        await DrainAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Starts handling a blob once a slot is free (waiting for one, so a flood of notices is not all in flight at once).
    /// A notice (<paramref name="match"/> null) reads the blob's ETag itself; a listed blob comes with its ETag. A blob
    /// already being handled is not started twice: its notice is kept and handled when the running one ends, since the
    /// blob may have been written again meanwhile. False when nothing was started.
    /// </summary>
    private async Task<bool> DispatchAsync(string blobName, ETag etag, Match? match, CancellationToken cancellationToken)
    {
        if (match is not null && IsHandledOrWaiting(blobName, etag))
        {
            return false;
        }

        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_state)
        {
            if (!_inFlight.Add(blobName))
            {
                if (match is null)
                {
                    _noticedAgain.Add(blobName);
                }

                _slots.Release();
                return false;
            }

            if (_running++ == 0)
            {
                _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        _ = RunAsync(blobName, etag, match, cancellationToken);
        return true;
    }

    private async Task RunAsync(string blobName, ETag etag, Match? match, CancellationToken cancellationToken)
    {
        try
        {
            // Off the dispatcher: the next blob starts while this one's storage calls are in flight.
            await Task.Yield();
            if (match is null)
            {
                await HandleNoticeAsync(blobName, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await HandleAsync(blobName, etag, match, opened: null, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Storage briefly away: the scan finds the blob later.
            LogPollFailed(e, _container.Name);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        finally
        {
            bool again;
            lock (_state)
            {
                _inFlight.Remove(blobName);
                again = _noticedAgain.Remove(blobName);
                if (--_running == 0)
                {
                    _drained.TrySetResult();
                }
            }

            _slots.Release();
            if (again)
            {
                _notices.Writer.TryWrite(blobName);
            }
        }
    }

    /// <summary>Waits for the invocations in flight to end (they were given the stopping token).</summary>
    private Task DrainAsync()
    {
        lock (_state)
        {
            return _running == 0 ? Task.CompletedTask : _drained.Task;
        }
    }

    /// <summary>True when this version of the blob was handled, or its retry is not due yet: nothing to start.</summary>
    private bool IsHandledOrWaiting(string blobName, ETag etag)
    {
        lock (_state)
        {
            return (_handled.TryGetValue(blobName, out var done) && done == etag)
                || (_retryAt.TryGetValue(blobName, out var retryAt) && _time.GetUtcNow() < retryAt);
        }
    }

    /// <summary>
    /// The time until the next listing: the shortest interval after a listing that found work nobody announced
    /// (someone is dropping without events) or when a retry is due; otherwise <see cref="ScanCostMultiple"/> times
    /// what the listing took, within the bounds.
    /// </summary>
    private TimeSpan NextScanDelay(TimeSpan scanTook, bool found)
    {
        var delay = found ? _scanInterval : TimeSpan.FromTicks(Math.Clamp(scanTook.Ticks * ScanCostMultiple, _scanInterval.Ticks, _maxScanInterval.Ticks));
        lock (_state)
        {
            foreach (var retryAt in _retryAt.Values)
            {
                var untilRetry = retryAt - _time.GetUtcNow();
                if (untilRetry < delay)
                {
                    delay = untilRetry < _scanInterval ? _scanInterval : untilRetry;
                }
            }
        }

        return delay;
    }

    private async Task LoadReceiptsAsync(CancellationToken cancellationToken)
    {
        await foreach (var receipt in _receipts.GetBlobsAsync(BlobTraits.Metadata, prefix: ReceiptPrefix, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (receipt.Metadata.TryGetValue("ETag", out var etag))
            {
                lock (_state)
                {
                    _handled[receipt.Name[ReceiptPrefix.Length..]] = Unquoted(new ETag(etag));
                }
            }
        }

        // This function's rows: RowKey ReceiptRow, one partition each (a scan, once at start), and those of earlier
        // versions, whose partition was ReceiptRow and row key the blob.
        var filter = TableClient.CreateQueryFilter($"RowKey eq {ReceiptRow} or PartitionKey eq {ReceiptRow}");
        await foreach (var row in _receiptRows.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey", "ETag", "Blob"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (row.GetString("ETag") is { } etag)
            {
                var blob = row.GetString("Blob") ?? Uri.UnescapeDataString(row.RowKey == ReceiptRow ? row.PartitionKey : row.RowKey);
                lock (_state)
                {
                    _handled[blob] = Unquoted(new ETag(etag));
                }
            }
        }
    }

    /// <summary>Lists the container and starts handling each new or changed blob; true when any was started.</summary>
    private async Task<bool> PollAsync(CancellationToken cancellationToken)
    {
        var found = false;
        var announcedAfter = _time.GetUtcNow() - _noticeGrace;
        await foreach (var blob in _container.GetBlobsAsync(prefix: _prefix, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            // A blob written a moment ago is left to its event (BlobTriggerOptions.NoticeGraceSeconds).
            if (blob.Properties.LastModified is { } written && written > announcedAfter)
            {
                continue;
            }

            if (blob.Properties.ETag is { } etag && _pattern.Match(blob.Name) is { Success: true } match)
            {
                found |= await DispatchAsync(blob.Name, Unquoted(etag), match, cancellationToken).ConfigureAwait(false);
            }
        }

        return found;
    }

    /// <summary>A blob an event announced: its current ETag from storage, then as a listed one.</summary>
    private async Task HandleNoticeAsync(string blobName, CancellationToken cancellationToken)
    {
        var match = _pattern.Match(blobName);
        if (!match.Success)
        {
            return;
        }

        // The download says which version of the blob it read (its ETag): no separate read of the properties first. A
        // repeated event for a version already handled costs that download, which is dropped unread.
        BlobDownloadStreamingResult download;
        try
        {
            download = (await _container.GetBlobClient(blobName).DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // Deleted since (or never there): nothing to do.
            return;
        }

        using (download)
        {
            await HandleAsync(blobName, Unquoted(download.Details.ETag), match, download, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Invokes the function for a blob matching the trigger's path unless this version of it was handled; true when it was invoked.</summary>
    /// <remarks><paramref name="opened"/>: the blob's content already being downloaded at <paramref name="etag"/>, or null to download it here.</remarks>
    private async Task<bool> HandleAsync(string blobName, ETag etag, Match match, BlobDownloadStreamingResult? opened, CancellationToken cancellationToken)
    {
        int attempt;
        lock (_state)
        {
            if (_handled.TryGetValue(blobName, out var done) && done == etag)
            {
                return false;
            }

            if (_retryAt.TryGetValue(blobName, out var retryAt) && _time.GetUtcNow() < retryAt)
            {
                return false;
            }

            attempt = _attempts.GetValueOrDefault(blobName) + 1;
        }

        try
        {
            await InvokeAsync(blobName, etag, match, opened, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // An outage (StorageFaults' one classification, shared with the request path) is not the blob's fault.
            var outage = StorageFaults.IsTransient(e, cancellationToken);
            LogInvocationFailed(e, _invoker.Name, blobName, attempt);
            lock (_state)
            {
                if (!outage)
                {
                    _attempts[blobName] = attempt;
                }

                if (outage || attempt < MaxAttempts)
                {
                    _retryAt[blobName] = _time.GetUtcNow() + TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(attempt - 1, 5)));
                    return true;
                }
            }
        }

        lock (_state)
        {
            _attempts.Remove(blobName);
            _retryAt.Remove(blobName);
        }

        await WriteReceiptAsync(blobName, etag, cancellationToken).ConfigureAwait(false);
        lock (_state)
        {
            _handled[blobName] = etag;
        }

        return true;
    }

    private async Task InvokeAsync(string blobName, ETag etag, Match match, BlobDownloadStreamingResult? opened, CancellationToken cancellationToken)
    {
        // Read the version that was listed; if it changed since, the next poll sees the new ETag.
        var download = opened ?? (await _container.GetBlobClient(blobName).DownloadStreamingAsync(new BlobDownloadOptions { Conditions = new BlobRequestConditions { IfMatch = etag } }, cancellationToken).ConfigureAwait(false)).Value;
        await using var content = download.Content;
        await using var scope = _services.CreateAsyncScope();
        await _invoker.InvokeAsync(scope.ServiceProvider, content, name => match.Groups[name] is { Success: true } g ? g.Value : (name == "name" ? blobName : null), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The ETag without quotes. A listing gives it bare (<c>0x8DC…</c>), a response header quoted (<c>"0x8DC…"</c>), and
    /// <see cref="ETag"/> compares the text: a drop handled from its event (header) was taken by the next listing as
    /// changed and published again, each re-delivery of a fleet's drops costing the publisher a second pass (issue 17).
    /// </summary>
    private static ETag Unquoted(ETag etag)
    {
        var text = etag.ToString();
        return text.Length >= 2 && text[0] == '"' && text[^1] == '"' ? new ETag(text[1..^1]) : etag;
    }

    private async Task WriteReceiptAsync(string blobName, ETag etag, CancellationToken cancellationToken)
    {
        var receipt = new TableEntity(ReceiptKey(blobName), ReceiptRow) { ["ETag"] = etag.ToString(), ["Blob"] = blobName };
        await _receiptRows.UpsertEntityAsync(receipt, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polling container {Container} failed")]
    private partial void LogPollFailed(Exception exception, string container);

    [LoggerMessage(Level = LogLevel.Error, Message = "Function {Function} failed for blob {Blob} (attempt {Attempt})")]
    private partial void LogInvocationFailed(Exception exception, string function, string blob, int attempt);
}
