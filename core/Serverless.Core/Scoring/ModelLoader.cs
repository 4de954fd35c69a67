using System.Diagnostics;
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

    private readonly StorageClients _storage;
    private readonly OrtRuntime _runtime;
    private readonly ILogger<ModelLoader> _logger;

    public ModelLoader(StorageClients storage, OrtRuntime runtime, ILogger<ModelLoader> logger)
    {
        _storage = storage;
        _runtime = runtime;
        _logger = logger;
    }

    public async Task<ModelSession> LoadAsync(ModelVersionEntity version, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var content = await _storage.Models.GetBlobClient(version.BlobName).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
        var bytes = content.Value.Content.ToArray();
        var session = _runtime.CreateSession(bytes);
        var loaded = new ModelSession(version.Model, version.Version, session, (bytes.LongLength * 2) + FixedOverheadBytes);
        LogLoaded(version.Tenant, version.Model, version.Version, bytes.LongLength, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return loaded;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Tenant}/{Model}/{Version} ({Bytes} bytes) in {ElapsedMs:F1} ms")]
    private partial void LogLoaded(string tenant, string model, string version, long bytes, double elapsedMs);
}
