using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Serverless.Core.Serving;
using Serverless.Core.Sharding;
using Serverless.ModelBuilder;

namespace Serverless.Scoring.Tests;

/// <summary>What a request costs the shard is bounded by what it sends and by the settings, never by what its shape declares.</summary>
[TestClass]
public sealed class RequestCostTests
{
    private static RequestMemoryBudget Budget(long perRequest, long inFlight) =>
        new(Options.Create(new ShardOptions { MaxRequestMemoryBytes = perRequest, InFlightMemoryBytes = inFlight }));

    [TestMethod]
    public void ShapeBombs_CostKilobytesNotTheirShape()
    {
        var budget = Budget(256L << 20, 1L << 30);
        string[] bombs =
        [
            """{"inputs":[{"name":"x","shape":[67108864],"datatype":"FP64","data":[]}]}""",
            """{"inputs":[{"name":"x","shape":[8192,8192],"datatype":"FP32","data":[1,2,3]}]}""",
            """{"inputs":[{"name":"x","shape":[67108864],"datatype":"BYTES","data":["a"]}]}""",
            """{"inputs":[{"name":"x","shape":[4,16777216],"datatype":"INT64","data":[[1],[2],[3],[4]]}]}""",
        ];
        foreach (var json in bombs)
        {
            var body = Encoding.UTF8.GetBytes(json);
            using var memory = budget.Open(body.Length);
            // Once first, so JIT and first-use costs are not counted as the request's.
            Assert.ThrowsExactly<ServingException>(() => InferenceRequestParser.Parse(body, null));
            var before = GC.GetAllocatedBytesForCurrentThread();
            var error = Assert.ThrowsExactly<ServingException>(() => InferenceRequestParser.Parse(body, memory), json);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.AreEqual(ServingErrorCode.InvalidArgument, error.Error.Code, json);
            StringAssert.Contains(error.Error.Message, "data elements but shape", json);
            Assert.IsLessThan(64 * 1024, allocated, $"{json} allocated {allocated:N0} bytes");
            Assert.AreEqual(body.LongLength, memory.HeldBytes, "only the body is held: nothing was taken for the shape");
        }
    }

    [TestMethod]
    public void AnInputOverThePerRequestBudget_Is413NamingIt()
    {
        var budget = Budget(1L << 20, 1L << 30);
        // 200,000 FP64 elements: 400 KB of JSON, 1.6 MB decoded.
        var body = Encoding.UTF8.GetBytes("{\"inputs\":[{\"name\":\"big\",\"shape\":[200000],\"datatype\":\"FP64\",\"data\":[" + string.Join(',', Enumerable.Repeat("1", 200_000)) + "]}]}");
        using var memory = budget.Open(body.Length);

        var error = Assert.ThrowsExactly<ServingException>(() => InferenceRequestParser.Parse(body, memory));

        Assert.AreEqual(ServingErrorCode.TooLarge, error.Error.Code);
        StringAssert.Contains(error.Error.Message, "input 'big' needs 1,600,000 bytes");
        StringAssert.Contains(error.Error.Message, "Shard__MaxRequestMemoryBytes");
        Assert.AreEqual(body.LongLength, memory.HeldBytes, "the refused input took nothing");
    }

    [TestMethod]
    public void OverTheInFlightBudget_Is503WithRetryAfter_UntilTheRequestsEnd()
    {
        var budget = Budget(1L << 20, 2L << 20);
        var first = budget.Open(1L << 20);
        var second = budget.Open(1L << 20);
        Assert.AreEqual(2L << 20, budget.InFlightBytes);

        var error = Assert.ThrowsExactly<ServingException>(() => budget.Open(1));
        Assert.AreEqual(ServingErrorCode.Unavailable, error.Error.Code);
        Assert.IsNotNull(error.Error.RetryAfter);
        StringAssert.Contains(error.Error.Message, "Shard__InFlightMemoryBytes");
        Assert.AreEqual(2L << 20, budget.InFlightBytes, "a refused reservation holds nothing");

        first.Dispose();
        second.Dispose();
        second.Dispose();
        Assert.AreEqual(0, budget.InFlightBytes, "everything is given back once, however often disposed");
        using var third = budget.Open(1L << 20);
        Assert.AreEqual(1L << 20, budget.InFlightBytes);
    }

    [TestMethod]
    public void AReadableRequest_TakesItsDecodedBytes()
    {
        var budget = Budget(1L << 20, 1L << 30);
        var body = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]},{"name":"s","shape":[2],"datatype":"BYTES","data":["ab","c"]}]}""");
        using var memory = budget.Open(body.Length);

        var request = InferenceRequestParser.Parse(body, memory);

        Assert.HasCount(2, request.Inputs);
        Assert.AreEqual(body.LongLength + (4 * 4) + InferenceRequestParser.DecodedBytes(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.String, 2, "[\"ab\",\"c\"]".Length), memory.HeldBytes);
    }

    [TestMethod]
    public void AnOutputOverItsCap_Is400NamingTheCap_BeforeAnythingIsEncoded()
    {
        using var session = TestAssemblySetup.Runtime.CreateSession(DemoModels.OutputSizedByInput());
        using var shape = OrtValue.CreateTensorValueFromMemory(new long[] { 1024, 1024 }, [2]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["shape"], [shape], ["y"]);

        // 4 MiB of zeros: within a 64 MiB cap, over a 1 MiB one.
        TensorCodec.CheckOutputSize("sized", ["y"], outputs, 1, 64L << 20, capFromModel: false);
        var error = Assert.ThrowsExactly<ServingException>(() => TensorCodec.CheckOutputSize("sized", ["y"], outputs, 1, 1L << 20, capFromModel: true));

        Assert.AreEqual(ServingErrorCode.InvalidArgument, error.Error.Code);
        StringAssert.Contains(error.Error.Message, "output cap of 1,048,576 bytes");
        StringAssert.Contains(error.Error.Message, "maxOutputBytes");
        StringAssert.Contains(error.Error.Message, "[1024,1024]");
        // A quarter of the rows (one request of a batch of four) is within the same 1 MiB cap.
        TensorCodec.CheckOutputSize("sized", ["y"], outputs, 0.25, 1L << 20, capFromModel: true);
    }

    [TestMethod]
    public void AnOutputOverTheRunMemory_FailsInsideOnnxRuntime_AsTheRequestsFault()
    {
        using var session = TestAssemblySetup.Runtime.CreateSession(DemoModels.OutputSizedByInput());
        // 2 GiB of floats, over the process's 1 GiB run arena: refused when ONNX Runtime asks the arena, not allocated.
        using var shape = OrtValue.CreateTensorValueFromMemory(new long[] { 32768, 16384 }, [2]);
        using var runOptions = new RunOptions();

        var error = Assert.ThrowsExactly<OnnxRuntimeException>(() => session.Run(runOptions, ["shape"], [shape], ["y"]));
        var refusal = RunMemoryRefusal.From(error, "sized", TestAssemblySetup.Runtime.RunMemoryBytes);

        Assert.AreEqual(1L << 30, TestAssemblySetup.Runtime.RunMemoryBytes);
        Assert.IsNotNull(refusal, error.Message);
        Assert.AreEqual(ServingErrorCode.InvalidArgument, refusal.Code);
        StringAssert.Contains(refusal.Message, "model 'sized' asked for a tensor of 2,147,483,648 bytes");
        StringAssert.Contains(refusal.Message, "Ort__RunMemoryBytes");
    }

    [TestMethod]
    public async Task ARunIsStoppedWhenItsRequestGivesUp()
    {
        // 4,000 products: seconds of work even on a fast machine, so the stop (its timer late on a loaded pool) always
        // lands mid-run; 400 once ran to its end before a late timer fired, in a full CI run.
        using var session = TestAssemblySetup.Runtime.CreateSession(DemoModels.Slow(512, 4000));
        using var x = OrtValue.CreateTensorValueFromMemory(new float[] { 1 }, [1, 1]);
        using var runOptions = new RunOptions();
        using var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        using var stop = giveUp.Token.Register(() => runOptions.Terminate = true);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var run = Task.Run(() => session.Run(runOptions, ["x"], [x], ["y"]));
        var error = await Assert.ThrowsExactlyAsync<OnnxRuntimeException>(() => run);

        Assert.IsLessThan(3_000, clock.ElapsedMilliseconds, $"4,000 products of 512×512 take far longer than the 200 ms before the stop; stopped after {clock.ElapsedMilliseconds} ms");
        StringAssert.Contains(error.Message, "terminate", StringComparison.OrdinalIgnoreCase);
    }
}
