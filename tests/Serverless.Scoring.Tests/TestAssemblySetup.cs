using Serverless.Scoring;

namespace Serverless.Scoring.Tests;

/// <summary>
/// The one <see cref="OrtRuntime"/> of the test process. ONNX Runtime allows one environment per process and
/// <see cref="Microsoft.ML.OnnxRuntime.OrtEnv.CreateInstanceWithOptions"/> throws once any environment
/// exists, so it is created here, before any test opens a session (other tests that call
/// <c>new InferenceSession(...)</c> then share this environment).
/// </summary>
[TestClass]
public static class TestAssemblySetup
{
    private static OrtRuntime? _runtime;

    public static OrtRuntime Runtime => _runtime ?? throw new InvalidOperationException("AssemblyInitialize has not run");

    [AssemblyInitialize]
    public static void Initialize(TestContext context)
    {
        _ = context;
        _runtime = new OrtRuntime();
    }

    [AssemblyCleanup]
    public static void Cleanup()
    {
        _runtime?.Dispose();
        _runtime = null;
    }
}
