using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace Serverless.Core.Scoring;

/// <summary>
/// The process's one ONNX Runtime environment, with global thread pools, and the session options every
/// session shares: no per-session threads, so thousands of resident sessions are not thousands of threads.
/// </summary>
public sealed partial class OrtRuntime : IDisposable
{
    public const string CpuProvider = "CPU";
    public const string CudaProvider = "CUDA";

    public OrtRuntime()
        : this(Options.Create(new OrtOptions()), NullLogger<OrtRuntime>.Instance)
    {
    }

    public OrtRuntime(IOptions<OrtOptions> options, ILogger<OrtRuntime> logger)
    {
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
        ExecutionProvider = CpuProvider;
        if (string.Equals(options.Value.ExecutionProvider, "cuda", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                // Needs the CUDA build of ONNX Runtime (Microsoft.ML.OnnxRuntime.Gpu, the GPU image) and a GPU.
                SessionOptions.AppendExecutionProvider_CUDA(options.Value.DeviceId);
                ExecutionProvider = CudaProvider;
                LogProvider(logger, CudaProvider, $"device {options.Value.DeviceId}");
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                // The CPU build of ONNX Runtime has no CUDA entry point at all; a CUDA build without a
                // GPU or driver fails inside it. Either way: serve on the CPU and say so.
                LogCudaFallback(logger, e.Message);
            }
        }
    }

    /// <summary>The execution provider sessions run on: <see cref="CudaProvider"/> or <see cref="CpuProvider"/>.</summary>
    public string ExecutionProvider { get; }

    public OrtEnv Env { get; }

    public SessionOptions SessionOptions { get; }

    /// <summary>Opens a session on model bytes; throws <see cref="OnnxRuntimeException"/> when they are not a runnable model.</summary>
    public InferenceSession CreateSession(byte[] model) => new(model, SessionOptions);

    public void Dispose() => SessionOptions.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "ONNX Runtime sessions run on the {Provider} execution provider ({Detail})")]
    private static partial void LogProvider(ILogger logger, string provider, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The CUDA execution provider is not available ({Reason}); falling back to the CPU execution provider")]
    private static partial void LogCudaFallback(ILogger logger, string reason);
}
