using Microsoft.ML.OnnxRuntime;
using Serverless.Scoring;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Scoring.Tests;

/// <summary>
/// Sessions are charged what they measurably keep, and small models get compact sessions. The bounds are
/// wide (what was measured on this machine is in the comments); each would fail if the mechanism were gone.
/// </summary>
[TestClass]
public sealed class OrtRuntimeTests
{
    private const int Side = 512;

    [TestMethod]
    public void TheCHeapCanBeMeasuredOnLinux()
    {
        Assert.AreEqual(OperatingSystem.IsLinux(), TestAssemblySetup.Runtime.CanMeasureSessions);
    }

    [TestMethod]
    public void SmallModelsGetCompactSessionOptions()
    {
        var runtime = TestAssemblySetup.Runtime;
        Assert.AreEqual(64 * 1024, runtime.CompactSessionMaxBytes);
        Assert.AreEqual(GraphOptimizationLevel.ORT_ENABLE_BASIC, runtime.CompactSessionOptions.GraphOptimizationLevel);
        Assert.IsFalse(runtime.CompactSessionOptions.EnableCpuMemArena);
        Assert.IsFalse(runtime.CompactSessionOptions.EnableMemoryPattern);
        Assert.AreEqual(GraphOptimizationLevel.ORT_ENABLE_ALL, runtime.SessionOptions.GraphOptimizationLevel);
    }

    [TestMethod]
    public void ATinySessionIsMeasuredAtItsCompactSize()
    {
        SkipUnlessLinux();
        var runtime = TestAssemblySetup.Runtime;
        using var warm = runtime.CreateSession(DemoModels.Linear());
        var sizes = new long[8];
        var sessions = new InferenceSession[sizes.Length];
        try
        {
            for (var i = 0; i < sizes.Length; i++)
            {
                sessions[i] = runtime.CreateMeasuredSession(DemoModels.Linear(), out sizes[i]);
            }
        }
        finally
        {
            foreach (var session in sessions)
            {
                session?.Dispose();
            }
        }

        Array.Sort(sizes);
        var median = sizes[sizes.Length / 2];
        // Measured here: ~40 KiB compact, ~73 KiB with the full options; a session is never free.
        Assert.IsTrue(median is > 4 * 1024 and < 60 * 1024, $"a tiny session measured {median:N0} bytes (median of {string.Join(", ", sizes)})");
    }

    [TestMethod]
    public void AOneMegabyteSessionIsMeasuredNearItsWeightsNotTwiceTheFile()
    {
        SkipUnlessLinux();
        var model = OneMegabyteModel();
        var weightBytes = (long)Side * Side * sizeof(float);
        // The median of three: another thread allocating or freeing at the same moment (a finalizer releasing
        // another test's session) moves one measurement, not the median.
        var sizes = new long[3];
        for (var i = 0; i < sizes.Length; i++)
        {
            using var session = TestAssemblySetup.Runtime.CreateMeasuredSession(model, out sizes[i]);
        }

        Array.Sort(sizes);
        var measured = sizes[1];
        // Measured here: ~1.04 x the file. The estimate used where nothing can be measured is 2 x the file + 64 KiB.
        Assert.IsTrue(measured >= weightBytes, $"measured {measured:N0} bytes, less than the weights' {weightBytes:N0}");
        Assert.IsTrue(measured < ModelLoader.ChargeFor(model.LongLength) * 3 / 4, $"measured {measured:N0} bytes, near the 2x estimate {ModelLoader.ChargeFor(model.LongLength):N0}");
    }

    [TestMethod]
    [DataRow(40_000L, 260L, true, DisplayName = "a tiny session: 40 KB for a 260-byte file")]
    [DataRow(1_100_000L, 1_048_739L, true, DisplayName = "a 1 MiB model: 1.05 x its file")]
    [DataRow(100_000L, 1_048_739L, false, DisplayName = "less than the file: something was freed meanwhile")]
    [DataRow(300_000L, 260L, false, DisplayName = "over 4 x the estimate: another creation was counted in")]
    public void MeasuredFiguresOutOfBounds_AreNotCharged(long measured, long file, bool plausible)
    {
        Assert.AreEqual(plausible, ModelLoader.IsPlausible(measured, file));
    }

    private static void SkipUnlessLinux()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Inconclusive("the C heap is measured through glibc's mallinfo2, on Linux only");
        }
    }

    private static byte[] OneMegabyteModel()
    {
        var random = new Random(7);
        var weights = new float[Side * Side];
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)(random.NextDouble() - 0.5);
        }

        return new OnnxModelBuilder("one_megabyte")
            .AddInput("x", OnnxElementType.Float, "batch", (long)Side)
            .AddOutput("y", OnnxElementType.Float, "batch", (long)Side)
            .AddInitializer("W", weights, Side, Side)
            .AddNode("MatMul", ["x", "W"], ["y"])
            .ToBytes();
    }
}
