using System.Text.RegularExpressions;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Serverless.Functions.AspNetCore;

/// <summary>
/// Fires a blob-triggered function for each new or changed blob matching its path, as the Functions
/// host's polling blob trigger does: it lists the container, and keeps a receipt (blob name + ETag) in
/// container <c>azure-webjobs-hosts</c> for each blob handled, so a restart does not fire everything again.
/// A failing invocation is retried with exponential backoff (1, 2, 4, 8 s…), up to <see cref="MaxAttempts"/>
/// times; a failure because storage is unreachable does not count as an attempt, so an outage of any length
/// ends with the drop published, not given up on. (The Functions host's blob trigger likewise retries, then
/// gives up to a poison queue; the publisher's own verdicts are Ready or Rejected rows, never exceptions.)
/// </summary>
internal sealed partial class BlobTriggerListener : BackgroundService
{
    private const int MaxAttempts = 5;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);
    private readonly FunctionInvoker _invoker;
    private readonly IServiceProvider _services;
    private readonly ILogger<BlobTriggerListener> _logger;
    private readonly BlobContainerClient _container;
    private readonly BlobContainerClient _receipts;
    private readonly string _prefix;
    private readonly Regex _pattern;
    private readonly Dictionary<string, ETag> _handled = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTime> _retryAt = new(StringComparer.Ordinal);

    public BlobTriggerListener(FunctionMethod function, IServiceProvider services, IConfiguration configuration, ILogger<BlobTriggerListener> logger)
    {
        var trigger = (BlobTriggerAttribute)function.Trigger;
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
        var blobPattern = path[(slash + 1)..];
        _prefix = blobPattern[..blobPattern.IndexOf('{', StringComparison.Ordinal)];
        _pattern = new Regex("^" + Regex.Replace(Regex.Escape(blobPattern).Replace("\\{", "{", StringComparison.Ordinal), "{([A-Za-z0-9_]+)}", "(?<$1>[^/]+)") + "$", RegexOptions.CultureInvariant);
        ReceiptPrefix = $"blobreceipts/local/{function.Name}/{_container.Name}/";
    }

    private string ReceiptPrefix { get; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _container.CreateIfNotExistsAsync(cancellationToken: stoppingToken).ConfigureAwait(false);
                await _receipts.CreateIfNotExistsAsync(cancellationToken: stoppingToken).ConfigureAwait(false);
                await LoadReceiptsAsync(stoppingToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogPollFailed(e, _container.Name);
                await Task.Delay(PollInterval * 4, stoppingToken).ConfigureAwait(false);
            }
        }

        using var timer = new PeriodicTimer(PollInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await PollAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Storage briefly away: try again on the next tick.
                LogPollFailed(e, _container.Name);
            }
        }
    }

    private async Task LoadReceiptsAsync(CancellationToken cancellationToken)
    {
        await foreach (var receipt in _receipts.GetBlobsAsync(BlobTraits.Metadata, prefix: ReceiptPrefix, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (receipt.Metadata.TryGetValue("ETag", out var etag))
            {
                _handled[receipt.Name[ReceiptPrefix.Length..]] = new ETag(etag);
            }
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        await foreach (var blob in _container.GetBlobsAsync(prefix: _prefix, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var match = _pattern.Match(blob.Name);
            if (!match.Success || blob.Properties.ETag is not { } etag || (_handled.TryGetValue(blob.Name, out var done) && done == etag))
            {
                continue;
            }

            if (_retryAt.TryGetValue(blob.Name, out var retryAt) && DateTime.UtcNow < retryAt)
            {
                continue;
            }

            var attempt = _attempts.GetValueOrDefault(blob.Name) + 1;
            try
            {
                await InvokeAsync(blob.Name, etag, match, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var outage = IsStorageOutage(e);
                LogInvocationFailed(e, _invoker.Name, blob.Name, attempt);
                if (!outage)
                {
                    _attempts[blob.Name] = attempt;
                }

                if (outage || attempt < MaxAttempts)
                {
                    _retryAt[blob.Name] = DateTime.UtcNow + TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(attempt - 1, 5)));
                    continue;
                }
            }

            _attempts.Remove(blob.Name);
            _retryAt.Remove(blob.Name);
            await WriteReceiptAsync(blob.Name, etag, cancellationToken).ConfigureAwait(false);
            _handled[blob.Name] = etag;
        }
    }

    /// <summary>Storage unreachable or failing on its side (transport error, 408, 429, 5xx), possibly wrapped by the invoker or the SDK's retries.</summary>
    private static bool IsStorageOutage(Exception exception) => exception switch
    {
        RequestFailedException failed => failed.Status is 0 or 408 or 429 or >= 500,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsStorageOutage),
        System.Reflection.TargetInvocationException { InnerException: { } inner } => IsStorageOutage(inner),
        HttpRequestException or IOException => true,
        _ => false,
    };

    private async Task InvokeAsync(string blobName, ETag etag, Match match, CancellationToken cancellationToken)
    {
        var blob = _container.GetBlobClient(blobName);
        // Read the version that was listed; if it changed since, the next poll sees the new ETag.
        var download = await blob.DownloadStreamingAsync(new BlobDownloadOptions { Conditions = new BlobRequestConditions { IfMatch = etag } }, cancellationToken).ConfigureAwait(false);
        await using var content = download.Value.Content;
        await using var scope = _services.CreateAsyncScope();
        await _invoker.InvokeAsync(scope.ServiceProvider, content, name => match.Groups[name] is { Success: true } g ? g.Value : (name == "name" ? blobName : null), cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteReceiptAsync(string blobName, ETag etag, CancellationToken cancellationToken)
    {
        var receipt = _receipts.GetBlobClient(ReceiptPrefix + blobName);
        await receipt.UploadAsync(BinaryData.Empty, new BlobUploadOptions { Metadata = new Dictionary<string, string> { ["ETag"] = etag.ToString() } }, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polling container {Container} failed")]
    private partial void LogPollFailed(Exception exception, string container);

    [LoggerMessage(Level = LogLevel.Error, Message = "Function {Function} failed for blob {Blob} (attempt {Attempt})")]
    private partial void LogInvocationFailed(Exception exception, string function, string blob, int attempt);
}
