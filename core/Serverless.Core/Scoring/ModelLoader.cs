using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Serverless.Core.Registry;
using Serverless.Core.Storage;

namespace Serverless.Core.Scoring;

/// <summary>Loads a registered model version from Blob <c>models</c> into an ONNX Runtime session.</summary>
public sealed partial class ModelLoader
{
    /// <summary>
    /// A session holds its initializers plus ORT's arena and graph: until resident bytes are measured
    /// (issue 5), charge twice the file size plus a fixed overhead.
    /// </summary>
    private const long FixedOverheadBytes = 64 * 1024;

    /// <summary>
    /// What a loaded session of a model file of <paramref name="fileBytes"/> is charged against a cache budget
    /// (host or device memory): twice the file (the weights once as read, once as ORT's initializers) plus a
    /// fixed overhead for the session's own state.
    /// </summary>
    public static long ChargeFor(long fileBytes) => (fileBytes * 2) + FixedOverheadBytes;

    private readonly StorageClients _storage;
    private readonly OrtRuntime _runtime;
    private readonly ModelDiskTier _diskTier;
    private readonly ILogger<ModelLoader> _logger;
    private readonly Histogram<double> _loadTime;

    public ModelLoader(StorageClients storage, OrtRuntime runtime, ModelDiskTier diskTier, IMeterFactory meterFactory, ILogger<ModelLoader> logger)
    {
        _storage = storage;
        _runtime = runtime;
        _diskTier = diskTier;
        _logger = logger;
        _loadTime = meterFactory.Create("Serverless.Shard").CreateHistogram<double>("serverless.load.duration", "ms");
    }

    /// <summary>Loads from the disk tier when the bytes are there, else from Blob (and keeps them on disk).</summary>
    public async Task<ModelSession> LoadAsync(ModelVersionEntity version, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var source = ModelSession.FromDisk;
        var bytes = await _diskTier.TryReadAsync(version.Sha256, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            source = ModelSession.FromBlob;
            var content = await _storage.Models.GetBlobClient(version.BlobName).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            bytes = content.Value.Content.ToArray();
        }

        var session = _runtime.CreateSession(bytes);
        var loaded = new ModelSession(version.Model, version.Version, session, ChargeFor(bytes.LongLength)) { LoadSource = source };
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        _loadTime.Record(elapsed, new KeyValuePair<string, object?>("source", source));
        LogLoaded(version.Tenant, version.Model, version.Version, bytes.LongLength, source, elapsed);
        if (source == ModelSession.FromBlob)
        {
            // Off the request's path: the waiting requests need the session, not the disk write.
            _ = Task.Run(() => _diskTier.WriteAsync(version.Sha256, bytes, CancellationToken.None), CancellationToken.None);
        }

        return loaded;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Tenant}/{Model}/{Version} ({Bytes} bytes) from {Source} in {ElapsedMs:F1} ms")]
    private partial void LogLoaded(string tenant, string model, string version, long bytes, string source, double elapsedMs);
}
