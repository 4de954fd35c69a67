using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Serverless.Scoring;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Bench;

/// <summary>
/// The ONNX Runtime floor: the demo model's <c>Run</c> in this process, with the platform's environment and
/// session options (<see cref="OrtRuntime"/>), batch 1, pre-allocated input. Three ways: outputs
/// pre-allocated (<c>floor-ort</c>), outputs allocated by ORT per run (what a shard does), and
/// <see cref="OrtIoBinding"/>.
/// </summary>
internal static class OrtFloor
{
    public static IReadOnlyList<ScenarioResult> Measure(TimeSpan budget)
    {
        using var runtime = new OrtRuntime();
        using var session = runtime.CreateSession(DemoModels.Linear());
        using var runOptions = new RunOptions();
        var input = new float[] { 1, 2, 3, 4 };
        var output = new float[2];
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, [1, 4]);
        using var outputValue = OrtValue.CreateTensorValueFromMemory(output, [1, 2]);
        string[] inputNames = ["x"];
        string[] outputNames = ["y"];
        OrtValue[] inputs = [inputValue];
        OrtValue[] outputs = [outputValue];
        var each = budget / 3;

        var preallocated = Loop(each, () => session.Run(runOptions, inputNames, inputs, outputNames, outputs));
        var allocated = Loop(each, () =>
        {
            using var results = session.Run(runOptions, inputNames, inputs, outputNames);
        });
        using var binding = session.CreateIoBinding();
        binding.BindInput("x", inputValue);
        binding.BindOutput("y", outputValue);
        var bound = Loop(each, () => session.RunWithBinding(runOptions, binding));

        return
        [
            Result("floor-ort", "Run, OrtValue in+out pre-allocated", preallocated),
            Result("floor-ort-alloc", "Run, outputs allocated per run", allocated),
            Result("floor-ort-iobinding", "RunWithBinding (OrtIoBinding)", bound),
        ];
    }

    private static (double[] Latencies, double Seconds) Loop(TimeSpan budget, Action run)
    {
        for (var i = 0; i < 5_000; i++)
        {
            run();
        }

        var latencies = new List<double>(1_000_000);
        var started = Stopwatch.GetTimestamp();
        var end = started + (long)(budget.TotalSeconds * Stopwatch.Frequency);
        var toMs = 1000.0 / Stopwatch.Frequency;
        while (latencies.Count < 2_000_000)
        {
            var t0 = Stopwatch.GetTimestamp();
            run();
            var t1 = Stopwatch.GetTimestamp();
            latencies.Add((t1 - t0) * toMs);
            if (t1 >= end)
            {
                break;
            }
        }

        return ([.. latencies], Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private static ScenarioResult Result(string id, string mode, (double[] Latencies, double Seconds) run) =>
        new ScenarioResult
        {
            Id = id,
            Scenario = "floor-ort",
            Mode = "in-process, 1 thread: " + mode,
            Requests = run.Latencies.Length,
            Seconds = run.Seconds,
            Throughput = run.Latencies.Length / run.Seconds,
        }.WithLatencies(run.Latencies);
}
