using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Microsoft.ML.OnnxRuntime;
using Serverless.Scoring;
using Serverless.Core.Serving;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Scoring.Tests;

[TestClass]
public sealed class DynamicBatcherTests
{
    private static ModelSession Linear() =>
        new("linear", "1", TestAssemblySetup.Runtime.CreateSession(DemoModels.Linear()), 1024);

    private static InferenceRequest Request(float[] x, int rows) =>
        InferenceRequestParser.Parse(Encoding.UTF8.GetBytes(
            $$"""{"inputs":[{"name":"x","shape":[{{rows}},4],"datatype":"FP32","data":[{{string.Join(',', x.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}}]}]}"""));

    /// <summary>The same request run alone, without batching: the reference answer.</summary>
    private static float[] Unbatched(ModelSession session, float[] x, int rows)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(x, [rows, 4]);
        using var runOptions = new RunOptions();
        using var outputs = session.Session.Run(runOptions, ["x"], [value], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static float[] Data(byte[] answer, out long[] shape)
    {
        var output = JsonNode.Parse(answer)!["outputs"]![0]!;
        shape = output["shape"]!.AsArray().Select(n => (long)n!).ToArray();
        return output["data"]!.AsArray().Select(n => (float)n!).ToArray();
    }

    [TestMethod]
    public async Task Burst_IsRunInFewerRunsThanRequests_AndEachCallerGetsItsOwnRows()
    {
        var session = Linear();
        var batcher = new DynamicBatcher(session, new BatchingSettings(TimeSpan.FromMilliseconds(200), 64, 1024), TimeProvider.System);
        var random = new Random(7);
        var requests = Enumerable.Range(0, 16).Select(i =>
        {
            var rows = 1 + (i % 3);
            var x = Enumerable.Range(0, rows * 4).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
            return (x, rows);
        }).ToList();

        var answers = await Task.WhenAll(requests.Select(r => batcher.RunAsync(Request(r.x, r.rows), ["y"], "linear", "1", CancellationToken.None)));

        for (var i = 0; i < requests.Count; i++)
        {
            var data = Data(answers[i], out var shape);
            CollectionAssert.AreEqual(new long[] { requests[i].rows, 2 }, shape, $"request {i}");
            CollectionAssert.AreEqual(Unbatched(session, requests[i].x, requests[i].rows), data, $"request {i} gets its own rows");
        }

        Assert.IsTrue(batcher.RunCount < requests.Count, $"{batcher.RunCount} runs for {requests.Count} requests");
        session.Release();
    }

    [TestMethod]
    public async Task LoneRequest_RunsWhenItsDelayIsUp_NotBefore()
    {
        var time = new FakeTimeProvider();
        var session = Linear();
        var batcher = new DynamicBatcher(session, new BatchingSettings(TimeSpan.FromMilliseconds(5), 8, 64), time);

        var answer = batcher.RunAsync(Request([1, 2, 3, 4], 1), ["y"], "linear", "1", CancellationToken.None);
        await Task.Delay(100);
        Assert.IsFalse(answer.IsCompleted, "the request waits for others inside its window");
        time.Advance(TimeSpan.FromMilliseconds(5));

        var completed = await Task.WhenAny(answer, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.AreSame(answer, completed, "the window closing runs the batch");
        CollectionAssert.AreEqual(Unbatched(session, [1, 2, 3, 4], 1), Data(await answer, out _));
        Assert.AreEqual(1, batcher.RunCount);
        session.Release();
    }

    [TestMethod]
    public async Task PreferredBatchSize_RunsAtOnce_WithoutWaitingForTheWindow()
    {
        var time = new FakeTimeProvider(); // never advanced: only reaching the preferred size can run the batch
        var session = Linear();
        var batcher = new DynamicBatcher(session, new BatchingSettings(TimeSpan.FromSeconds(30), 4, 64), time);

        var answers = Enumerable.Range(0, 4).Select(i => batcher.RunAsync(Request([i, i, i, i], 1), ["y"], "linear", "1", CancellationToken.None)).ToArray();
        var all = Task.WhenAll(answers);

        Assert.AreSame(all, await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.AreEqual(1, batcher.RunCount, "four rows reached the preferred size: one run");
        session.Release();
    }

    [TestMethod]
    public async Task RequestsOfOtherShapes_AreNotMixed()
    {
        var bytes = DemoModels.Identity("v", OnnxElementType.Float, "batch", "n");
        var session = new ModelSession("identity", "1", TestAssemblySetup.Runtime.CreateSession(bytes), 1024);
        var batcher = new DynamicBatcher(session, new BatchingSettings(TimeSpan.FromMilliseconds(50), 64, 1024), TimeProvider.System);
        InferenceRequest Make(int n, float value) => InferenceRequestParser.Parse(Encoding.UTF8.GetBytes(
            $$"""{"inputs":[{"name":"v","shape":[1,{{n}}],"datatype":"FP32","data":[{{string.Join(',', Enumerable.Repeat(value, n))}}]}]}"""));

        var two = batcher.RunAsync(Make(2, 1.5f), ["v_out"], "identity", "1", CancellationToken.None);
        var three = batcher.RunAsync(Make(3, -2f), ["v_out"], "identity", "1", CancellationToken.None);
        var twoAgain = batcher.RunAsync(Make(2, 7f), ["v_out"], "identity", "1", CancellationToken.None);

        CollectionAssert.AreEqual(new[] { 1.5f, 1.5f }, Data(await two, out _));
        CollectionAssert.AreEqual(new[] { -2f, -2f, -2f }, Data(await three, out var threeShape));
        CollectionAssert.AreEqual(new long[] { 1, 3 }, threeShape);
        CollectionAssert.AreEqual(new[] { 7f, 7f }, Data(await twoAgain, out _));
        session.Release();
    }

    [TestMethod]
    public void CanBatch_OnlyModelsWithAFreeFirstDimension()
    {
        var linear = Linear();
        var scalar = new ModelSession("scalar", "1", TestAssemblySetup.Runtime.CreateSession(DemoModels.Identity("s", OnnxElementType.Float)), 1024);
        var strings = new ModelSession("strings", "1", TestAssemblySetup.Runtime.CreateSession(DemoModels.Identity("s", OnnxElementType.String, "batch")), 1024);

        Assert.IsTrue(DynamicBatcher.CanBatch(linear));
        Assert.IsFalse(DynamicBatcher.CanBatch(scalar));
        Assert.IsFalse(DynamicBatcher.CanBatch(strings));
        linear.Release();
        scalar.Release();
        strings.Release();
    }

    [TestMethod]
    public async Task InvalidRequest_FailsAlone_WithoutSpoilingTheBatch()
    {
        var session = Linear();
        var batcher = new DynamicBatcher(session, new BatchingSettings(TimeSpan.FromMilliseconds(50), 64, 1024), TimeProvider.System);
        var good = batcher.RunAsync(Request([1, 2, 3, 4], 1), ["y"], "linear", "1", CancellationToken.None);
        var bad = InferenceRequestParser.Parse(Encoding.UTF8.GetBytes("""{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}"""));

        var error = Assert.ThrowsExactly<ServingException>(() => batcher.RunAsync(bad, ["y"], "linear", "1", CancellationToken.None));
        StringAssert.Contains(error.Message, "shape");
        CollectionAssert.AreEqual(Unbatched(session, [1, 2, 3, 4], 1), Data(await good, out _));
        session.Release();
    }
}
