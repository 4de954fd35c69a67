using Microsoft.ML.OnnxRuntime;

namespace Serverless.Core.Scoring;

/// <summary>
/// The process's one ONNX Runtime environment, with global thread pools, and the session options every
/// session shares: no per-session threads, so thousands of resident sessions are not thousands of threads.
/// </summary>
public sealed class OrtRuntime : IDisposable
{
    public OrtRuntime()
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
    }

    public OrtEnv Env { get; }

    public SessionOptions SessionOptions { get; }

    /// <summary>Opens a session on model bytes; throws <see cref="OnnxRuntimeException"/> when they are not a runnable model.</summary>
    public InferenceSession CreateSession(byte[] model) => new(model, SessionOptions);

    public void Dispose() => SessionOptions.Dispose();
}
