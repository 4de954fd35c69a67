using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Serverless.Core.Registry;

namespace Serverless.Scoring;

/// <summary>
/// A loaded ONNX Runtime session and what the codec needs to know of it. Reference counted: the cache
/// holds one reference and every running request one more, so an evicted session is disposed only
/// after its last run.
/// </summary>
public sealed class ModelSession
{
    private readonly InferenceSession _session;
    private int _references = 1;
    private int _neverUsed;
    private DynamicBatcher? _batcher;
    private System.Threading.RateLimiting.ConcurrencyLimiter? _limiter;

    public ModelSession(string model, string version, InferenceSession session, long sizeBytes)
    {
        Model = model;
        Version = version;
        _session = session;
        SizeBytes = sizeBytes;
        Inputs = Describe(session.InputMetadata);
        Outputs = Describe(session.OutputMetadata);
        OutputNames = new string[Outputs.Length];
        for (var i = 0; i < Outputs.Length; i++)
        {
            OutputNames[i] = Outputs[i].Name;
        }
    }

    public const string FromBlob = "blob";
    public const string FromDisk = "disk";

    public string Model { get; }

    /// <summary>Where the bytes came from when this session was loaded: <see cref="FromBlob"/> or <see cref="FromDisk"/>.</summary>
    public string LoadSource { get; init; } = FromBlob;

    /// <summary>The bound on run memory its runs share with every other session's (<see cref="OrtRuntime.RunMemoryBytes"/>; 0: none).</summary>
    public long RunMemoryBytes { get; init; }

    public string Version { get; }

    /// <summary>The bytes this session is charged for in the cache.</summary>
    public long SizeBytes { get; }

    /// <summary>True when <see cref="SizeBytes"/> was measured at load (native bytes kept), false when estimated from the file size.</summary>
    public bool SizeMeasured { get; init; }

    /// <summary>How the load's time went (ms): reading the bytes, then creating the session; for the miss log.</summary>
    public (double ReadMs, double CreateMs) LoadPhases { get; init; }

    public SessionTensor[] Inputs { get; }

    public SessionTensor[] Outputs { get; }

    public string[] OutputNames { get; }

    internal InferenceSession Session => _session;

    /// <summary>True while no request has used this session since a warm-up loaded it (<see cref="SessionUse.Warmup"/>).</summary>
    public bool NeverUsed => Volatile.Read(ref _neverUsed) == 1;

    /// <summary>Marks a session a warm-up loaded, before it enters the cache.</summary>
    internal void MarkNeverUsed() => Volatile.Write(ref _neverUsed, 1);

    /// <summary>True for the one caller that first uses a session a warm-up loaded.</summary>
    internal bool TryMarkUsed() => Volatile.Read(ref _neverUsed) == 1 && Interlocked.Exchange(ref _neverUsed, 0) == 1;

    /// <summary>True when this session has been disposed (test hook for lease safety).</summary>
    public bool IsDisposed => Volatile.Read(ref _references) <= 0;

    /// <summary>Takes a reference unless the session is already being disposed.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            var current = Volatile.Read(ref _references);
            if (current <= 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    /// <summary>Drops a reference; the last one disposes the native session.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _batcher?.Complete();
            _limiter?.Dispose();
            _session.Dispose();
        }
    }

    /// <summary>This session's limit on requests running at once (<see cref="Sharding.ShardOptions.MaxConcurrentRequestsPerModel"/>), made on first use.</summary>
    internal System.Threading.RateLimiting.ConcurrencyLimiter GetOrCreateLimiter(int permits, int queue)
    {
        if (Volatile.Read(ref _limiter) is { } existing)
        {
            return existing;
        }

        lock (_session)
        {
            return _limiter ??= new System.Threading.RateLimiting.ConcurrencyLimiter(new System.Threading.RateLimiting.ConcurrencyLimiterOptions
            {
                PermitLimit = permits,
                QueueLimit = queue,
                QueueProcessingOrder = System.Threading.RateLimiting.QueueProcessingOrder.OldestFirst,
            });
        }
    }

    /// <summary>This session's dynamic batcher, made on first use with the model's settings.</summary>
    internal DynamicBatcher GetOrCreateBatcher(BatchingSettings settings, TimeProvider time)
    {
        if (Volatile.Read(ref _batcher) is { } existing)
        {
            return existing;
        }

        lock (_session)
        {
            return _batcher ??= new DynamicBatcher(this, settings, time);
        }
    }

    /// <summary>The v2 description of the session's inputs or outputs.</summary>
    public static TensorMetadata[] ToMetadata(SessionTensor[] tensors)
    {
        var result = new TensorMetadata[tensors.Length];
        for (var i = 0; i < tensors.Length; i++)
        {
            result[i] = tensors[i].ToMetadata();
        }

        return result;
    }

    private static SessionTensor[] Describe(IReadOnlyDictionary<string, NodeMetadata> metadata)
    {
        var result = new SessionTensor[metadata.Count];
        var i = 0;
        foreach (var (name, node) in metadata)
        {
            result[i++] = new SessionTensor(
                name,
                node.OnnxValueType,
                node.IsTensor ? node.ElementDataType : TensorElementType.DataTypeMax,
                node.IsTensor ? Array.ConvertAll(node.Dimensions, d => (long)d) : [-1]);
        }

        return result;
    }
}
