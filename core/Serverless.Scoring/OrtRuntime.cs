using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace Serverless.Scoring;

/// <summary>
/// The process's one ONNX Runtime environment, with global thread pools, and the session options sessions
/// share: no per-session threads, so thousands of resident sessions are not thousands of threads; and for
/// small models (<see cref="OrtOptions.CompactSessionMaxBytes"/>) compact options that keep a session small.
/// </summary>
public sealed partial class OrtRuntime : IDisposable
{
    public const string CpuProvider = "CPU";
    public const string CudaProvider = "CUDA";

    public OrtRuntime()
        : this(Options.Create(new OrtOptions()), NullLogger<OrtRuntime>.Instance)
    {
    }

    private readonly NativeHeapProbe _heap = new();
    private readonly Lock _createLock = new();

    public OrtRuntime(IOptions<OrtOptions> options, ILogger<OrtRuntime> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        CompactSessionMaxBytes = options.Value.CompactSessionMaxBytes;
        var threading = new OrtThreadingOptions
        {
            GlobalIntraOpNumThreads = Math.Max(1, Environment.ProcessorCount),
            GlobalInterOpNumThreads = 1,
            GlobalSpinControl = false,
        };
        var environment = new EnvironmentCreationOptions
        {
            threadOptions = threading,
            logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            logId = "serverless",
        };
        // Creating the environment with global pools must happen before any session exists.
        Env = OrtEnv.CreateInstanceWithOptions(ref environment);
        SessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        SessionOptions.DisablePerSessionThreads();
        // Measured per tiny session (docs/benchmarks.md): ORT_ENABLE_ALL's extended and layout optimizers
        // leave ~30 KiB per session behind; the arena and memory patterns pay off only for large tensors.
        CompactSessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            EnableCpuMemArena = false,
            EnableMemoryPattern = false,
        };
        CompactSessionOptions.DisablePerSessionThreads();
        ExecutionProvider = CpuProvider;
        if (string.Equals(options.Value.ExecutionProvider, "cuda", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                // Needs the CUDA build of ONNX Runtime (Microsoft.ML.OnnxRuntime.Gpu, the GPU image) and a GPU.
                SessionOptions.AppendExecutionProvider_CUDA(options.Value.DeviceId);
                ExecutionProvider = CudaProvider;
                // On the GPU every session is a device session; the compact CPU options do not apply.
                CompactSessionOptions.Dispose();
                CompactSessionOptions = SessionOptions;
                LogProvider(logger, CudaProvider, $"device {options.Value.DeviceId}");
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                // The CPU build of ONNX Runtime has no CUDA entry point at all; a CUDA build without a
                // GPU or driver fails inside it. Either way: serve on the CPU and say so.
                LogCudaFallback(logger, e.Message);
            }
        }

        if (ExecutionProvider == CpuProvider && options.Value.RunMemoryBytes > 0)
        {
            ShareRunArena(options.Value.RunMemoryBytes, logger);
        }
    }

    /// <summary>
    /// The bound of <see cref="OrtOptions.RunMemoryBytes"/> on every CPU run of this process, or 0 when runs allocate
    /// from the C heap unbounded (the setting is 0, or the sessions run on CUDA).
    /// </summary>
    public long RunMemoryBytes { get; private set; }

    /// <summary>
    /// Registers one arena with the environment for every CPU session's run memory and points both session options at
    /// it; weights stay on the C heap (<c>session.use_device_allocator_for_initializers</c>), where a session's size
    /// is measured, so the arena holds only what runs in flight need. Measured (16 MiB outputs beside a tiny model's
    /// runs): the outputs' p99 10 ms → 2.5 ms and the process's RSS 180 → 81 MiB, because glibc no longer maps,
    /// faults in and unmaps (or keeps) a large block per run.
    /// </summary>
    private void ShareRunArena(long bytes, ILogger logger)
    {
        // kSameAsRequested (1): the arena grows by what a run asks, never to the next power of two past it.
        using var memory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCPU, OrtAllocatorType.ArenaAllocator, 0, OrtMemType.Default);
        using var arena = new OrtArenaCfg((uint)bytes, 1, -1, -1);
        try
        {
            Env.CreateAndRegisterAllocator(memory, arena);
        }
        catch (OnnxRuntimeException e)
        {
            // The environment is the process's: a second runtime in one process (tests) finds the first one's arena
            // registered and shares it, with that one's bound.
            LogArenaShared(logger, e.Message);
        }

        foreach (var sessionOptions in (ReadOnlySpan<SessionOptions>)[SessionOptions, CompactSessionOptions])
        {
            sessionOptions.AddSessionConfigEntry("session.use_env_allocators", "1");
            sessionOptions.AddSessionConfigEntry("session.use_device_allocator_for_initializers", "1");
        }

        RunMemoryBytes = bytes;
    }

    /// <summary>The execution provider sessions run on: <see cref="CudaProvider"/> or <see cref="CpuProvider"/>.</summary>
    public string ExecutionProvider { get; }

    public OrtEnv Env { get; }

    /// <summary>The options of sessions of models larger than <see cref="CompactSessionMaxBytes"/>.</summary>
    public SessionOptions SessionOptions { get; }

    /// <summary>The options of sessions of models up to <see cref="CompactSessionMaxBytes"/> (on CUDA: <see cref="SessionOptions"/>).</summary>
    public SessionOptions CompactSessionOptions { get; }

    public long CompactSessionMaxBytes { get; }

    /// <summary>Whether the C heap can be measured here, so <see cref="CreateMeasuredSession"/> reports bytes.</summary>
    public bool CanMeasureSessions => _heap.IsAvailable;

    /// <summary>Opens a session on model bytes; throws <see cref="OnnxRuntimeException"/> when they are not a runnable model.</summary>
    public InferenceSession CreateSession(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new InferenceSession(model, OptionsFor(model.LongLength));
    }

    /// <summary>
    /// Opens a session and measures the native bytes it keeps (<paramref name="nativeBytes"/>; -1 where the C
    /// heap cannot be read, or when another creation is being measured at that moment). One creation is measured
    /// at a time, so that its allocations are told apart from another measured one's; a creation that finds the
    /// measurement taken goes ahead unmeasured rather than wait (a tiny model never waits behind a large one's
    /// seconds of creation), and its caller estimates instead. An unmeasured creation running beside a measured
    /// one can still add to that one's figure: <see cref="ModelLoader"/> discards figures out of bounds.
    /// </summary>
    public InferenceSession CreateMeasuredSession(byte[] model, out long nativeBytes)
    {
        ArgumentNullException.ThrowIfNull(model);
        var options = OptionsFor(model.LongLength);
        if (!_heap.IsAvailable || !_createLock.TryEnter())
        {
            nativeBytes = -1;
            return new InferenceSession(model, options);
        }

        try
        {
            var before = _heap.AllocatedBytes();
            var session = new InferenceSession(model, options);
            var after = _heap.AllocatedBytes();
            nativeBytes = before < 0 || after < 0 ? -1 : Math.Max(0, after - before);
            return session;
        }
        finally
        {
            _createLock.Exit();
        }
    }

    private SessionOptions OptionsFor(long modelBytes) => modelBytes <= CompactSessionMaxBytes ? CompactSessionOptions : SessionOptions;

    public void Dispose()
    {
        if (!ReferenceEquals(CompactSessionOptions, SessionOptions))
        {
            CompactSessionOptions.Dispose();
        }

        SessionOptions.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "ONNX Runtime sessions run on the {Provider} execution provider ({Detail})")]
    private static partial void LogProvider(ILogger logger, string provider, string detail);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The process's run arena was registered before this runtime ({Reason}); its bound applies")]
    private static partial void LogArenaShared(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The CUDA execution provider is not available ({Reason}); falling back to the CPU execution provider")]
    private static partial void LogCudaFallback(ILogger logger, string reason);
}
