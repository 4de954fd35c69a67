using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Serverless.Core.Concurrency;
using Serverless.Core.Registry;
using Serverless.Core.Serving;
using Serverless.Core.Storage;

namespace Serverless.Scoring;

/// <summary>Loads a registered model version from Blob <c>models</c> into an ONNX Runtime session.</summary>
public sealed partial class ModelLoader
{
    /// <summary>The estimate's allowance for a session's own state beyond its weights.</summary>
    private const long FixedOverheadBytes = 64 * 1024;

    /// <summary>
    /// What a session keeps on the .NET heap beside its native memory, added to the measured native bytes:
    /// the <see cref="ModelSession"/> with its input/output metadata, the cache entry, the registry rows, the
    /// per-model limiter and traffic counters. Estimated from the density bench (the shard's RSS growth per
    /// model less the native bytes measured per session), not measured per load.
    /// </summary>
    public const long ManagedBytesPerSession = 16 * 1024;

    /// <summary>
    /// The estimate for a session of a model file of <paramref name="fileBytes"/>, where it cannot be measured
    /// (device memory; platforms without glibc) and for the GPU pool's check at publish: twice the file (the
    /// weights once as read, once as ORT's initializers) plus a fixed overhead for the session's own state.
    /// </summary>
    public static long ChargeFor(long fileBytes) => (fileBytes * 2) + FixedOverheadBytes;

    /// <summary>
    /// Whether a measured figure can be the session's own: at least the file (the initializers are copied out of
    /// it) and at most four times the estimate. Outside that, another thread's allocations or frees moved the C
    /// heap during the measurement (a creation beside it, a large free), and the estimate is the better charge.
    /// </summary>
    public static bool IsPlausible(long measuredBytes, long fileBytes) =>
        measuredBytes >= fileBytes && measuredBytes <= 4 * ChargeFor(fileBytes);

    /// <summary>At most this many reads started ahead of their registry row at once (<see cref="Prefetch"/>).</summary>
    private const int MaxPrefetches = 8;

    /// <summary>How long bytes read ahead wait for the load that would use them before they are dropped.</summary>
    private static readonly TimeSpan PrefetchKeptFor = TimeSpan.FromSeconds(10);

    private readonly StorageClients _storage;
    private readonly SingleFlight<string, bool> _prefetches = new(StringComparer.Ordinal);
    private readonly OrtRuntime _runtime;
    private readonly ModelDiskTier _diskTier;
    private readonly ILogger<ModelLoader> _logger;
    private readonly Histogram<double> _loadTime;
    private readonly Counter<long> _hashMismatches;

    public ModelLoader(StorageClients storage, OrtRuntime runtime, ModelDiskTier diskTier, IMeterFactory meterFactory, ILogger<ModelLoader> logger)
    {
        _storage = storage;
        _runtime = runtime;
        _diskTier = diskTier;
        _logger = logger;
        var meter = meterFactory.Create("Serverless.Shard");
        _loadTime = meter.CreateHistogram<double>("serverless.load.duration", "ms");
        // Tagged like serverless.requests: only registered models get here (the row was read), so the series are bounded.
        _hashMismatches = meter.CreateCounter<long>("serverless.model.hash_mismatches", "{load}", "Loads refused because the bytes read from Blob do not match the version's published SHA-256, by tenant and model");
    }

    /// <summary>
    /// Starts reading a model version's bytes (disk tier, else Blob) before its registry row is read: the blob name
    /// is content-addressed (<see cref="Naming.ModelNames.ModelBlobName"/>), so a shard that has the hash from the
    /// router (<c>x-serverless-model-sha256</c>) knows where the bytes are, and a model's first request overlaps its
    /// registry read with its download instead of doing one after the other. <see cref="LoadAsync"/> uses the bytes
    /// only if the row it is given names that same blob; bytes no load takes are dropped after a few seconds.
    /// </summary>
    public void Prefetch(string blobName, string sha256)
    {
        if (_prefetches.Count >= MaxPrefetches || _prefetches.IsRunning(blobName))
        {
            return;
        }

        var read = new ReadAhead(ReadBytesAsync(blobName, sha256, CancellationToken.None));
        _prefetches.TryStart(blobName, read, PrefetchKeptFor, static (_, keptFor, ahead) => ahead.KeepAsync(keptFor));
    }

    /// <summary>Loads from the disk tier when the bytes are there, else from Blob (and keeps them on disk).</summary>
    public async Task<ModelSession> LoadAsync(ModelVersionEntity version, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        (byte[] Bytes, string Source)? read = null;
        if (_prefetches.TryJoin<ReadAhead>(version.BlobName, out var prefetch) && prefetch.TryTake())
        {
            try
            {
                read = await prefetch.Read.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The read ahead failed: read again here, where a failure is the request's to report.
            }
        }

        var (bytes, source) = read ?? await ReadBytesAsync(version.BlobName, version.Sha256, cancellationToken).ConfigureAwait(false);
        var readDone = Stopwatch.GetTimestamp();
        if (source == ModelSession.FromBlob)
        {
            // Before ONNX Runtime sees the bytes and before the disk tier keeps them: what the tier gives back later
            // is trusted on its own (cheaper) XxHash3 check, so only bytes that passed this one may go in.
            CheckPublishedHash(version, bytes);
        }

        var creating = Stopwatch.GetTimestamp();
        var session = _runtime.CreateMeasuredSession(bytes, out var nativeBytes);
        var created = Stopwatch.GetTimestamp();
        // Host memory is charged what the session measurably keeps; device memory (CUDA) is not in the C
        // heap, so a GPU session is charged the estimate.
        var measured = _runtime.ExecutionProvider == OrtRuntime.CpuProvider && IsPlausible(nativeBytes, bytes.LongLength);
        var charge = measured ? nativeBytes + ManagedBytesPerSession : ChargeFor(bytes.LongLength);
        var loaded = new ModelSession(version.Model, version.Version, session, charge) { LoadSource = source, SizeMeasured = measured, RunMemoryBytes = _runtime.RunMemoryBytes, LoadPhases = (Stopwatch.GetElapsedTime(started, readDone).TotalMilliseconds, Stopwatch.GetElapsedTime(creating, created).TotalMilliseconds) };
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        _loadTime.Record(elapsed, new KeyValuePair<string, object?>("source", source));
        LogLoaded(version.Tenant, version.Model, version.Version, bytes.LongLength, source, elapsed, charge, measured ? "measured" : "estimated", read is null ? "" : "; bytes read ahead of the registry row");
        if (source == ModelSession.FromBlob)
        {
            // Off the request's path: the waiting requests need the session, not the disk write.
            _ = Task.Run(() => _diskTier.WriteAsync(version.Sha256, bytes, CancellationToken.None), CancellationToken.None);
        }

        return loaded;
    }

    /// <summary>
    /// Refuses bytes from Blob whose SHA-256 is not the row's: the blob was overwritten after it was published (its
    /// name is content-addressed, but nothing stops a write to it), so serving it would answer with a model nobody
    /// published. A 503 (another replica or a later retry may read a restored blob), a metric and a warning.
    /// </summary>
    private void CheckPublishedHash(ModelVersionEntity version, byte[] bytes)
    {
        if (string.IsNullOrEmpty(version.Sha256))
        {
            // Rows written before hashes were recorded have none to check against: loaded as before this check existed.
            return;
        }

        if (ModelBytesCheck.Matches(bytes, version.Sha256, out var actual))
        {
            return;
        }

        _hashMismatches.Add(1, new KeyValuePair<string, object?>("tenant", version.Tenant), new KeyValuePair<string, object?>("model", version.Model));
        LogHashMismatch(version.Tenant, version.Model, version.Version, version.BlobName, bytes.LongLength, version.Sha256, actual);
        throw new ServingException(ServingError.Unavailable(
            $"model '{version.Model}' version '{version.Version}' is not served: the bytes stored for it do not match its published SHA-256 (stored bytes hash to {actual[..12]}…, published {version.Sha256[..Math.Min(12, version.Sha256.Length)]}…); restore its blob or publish a new version"));
    }

    private async Task<(byte[] Bytes, string Source)> ReadBytesAsync(string blobName, string sha256, CancellationToken cancellationToken)
    {
        if (await _diskTier.TryReadAsync(sha256, cancellationToken).ConfigureAwait(false) is { } kept)
        {
            return (kept, ModelSession.FromDisk);
        }

        var content = await _storage.Models.GetBlobClient(blobName).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
        return (content.Value.Content.ToArray(), ModelSession.FromBlob);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused to load {Tenant}/{Model}/{Version}: the {Bytes} bytes of blob {BlobName} hash to SHA-256 {ActualSha256}, its registry row says {PublishedSha256}; not served and not kept on disk")]
    private partial void LogHashMismatch(string tenant, string model, string version, string blobName, long bytes, string publishedSha256, string actualSha256);

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Tenant}/{Model}/{Version} ({Bytes} bytes) from {Source} in {ElapsedMs:F1} ms; charged {ChargedBytes} bytes ({Charge}){ReadAhead}")]
    private partial void LogLoaded(string tenant, string model, string version, long bytes, string source, double elapsedMs, long chargedBytes, string charge, string readAhead);
}
