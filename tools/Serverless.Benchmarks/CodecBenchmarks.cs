using System.Buffers;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Serverless.Scoring;
using Serverless.ModelBuilder;

namespace Serverless.Benchmarks;

/// <summary>
/// The shard's codec on the demo Linear model: parse a v2 body, turn it into OrtValues checked against
/// the session, and write the v2 answer from the outputs of a run, at batch 1 and batch 64.
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks : IDisposable
{
    private OrtRuntime _runtime = null!;
    private ModelSession _session = null!;
    private InferenceSession _inference = null!;
    private byte[] _body = [];
    private InferenceRequest _request = null!;
    private OrtValue[] _outputs = [];
    private ArrayBufferWriter<byte> _buffer = null!;

    [Params(1, 64)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _runtime = SharedRuntime.Instance;
        _inference = _runtime.CreateSession(DemoModels.Linear());
        _session = new ModelSession("demo-linear", "1", _inference, 1);
        var json = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $$"""{"inputs":[{"name":"x","shape":[{{Batch}},4],"datatype":"FP32","data":["""));
        for (var i = 0; i < Batch * 4; i++)
        {
            json.Append(i == 0 ? "" : ",").Append(((i % 13) * 0.37).ToString("0.##", CultureInfo.InvariantCulture));
        }

        json.Append("]}]}");
        _body = Encoding.UTF8.GetBytes(json.ToString());
        _request = InferenceRequestParser.Parse(_body);
        var inputs = TensorCodec.CreateInputs(_session, _request, out var names);
        using var runOptions = new RunOptions();
        using var results = _inference.Run(runOptions, names, inputs, _session.OutputNames);
        var y = results[0].GetTensorDataAsSpan<float>().ToArray();
        _outputs = [OrtValue.CreateTensorValueFromMemory(y, [Batch, 2])];
        foreach (var input in inputs)
        {
            input.Dispose();
        }

        _buffer = new ArrayBufferWriter<byte>(4096);
    }

    [Benchmark(Description = "Parse (v2 JSON → typed arrays)")]
    public InferenceRequest Parse() => InferenceRequestParser.Parse(_body);

    [Benchmark(Description = "CreateInputs (arrays → OrtValues)")]
    public int CreateInputs()
    {
        var values = TensorCodec.CreateInputs(_session, _request, out _);
        foreach (var value in values)
        {
            value.Dispose();
        }

        return values.Length;
    }

    [Benchmark(Description = "WriteResponse (outputs → v2 JSON)")]
    public int WriteResponse()
    {
        _buffer.ResetWrittenCount();
        TensorCodec.WriteResponse(_buffer, "demo-linear", "1", null, _session.OutputNames, _outputs);
        return _buffer.WrittenCount;
    }

    [Benchmark(Description = "Parse + CreateInputs + WriteResponse")]
    public int RoundTrip()
    {
        var request = InferenceRequestParser.Parse(_body);
        var values = TensorCodec.CreateInputs(_session, request, out _);
        foreach (var value in values)
        {
            value.Dispose();
        }

        _buffer.ResetWrittenCount();
        TensorCodec.WriteResponse(_buffer, "demo-linear", "1", request.Id, _session.OutputNames, _outputs);
        return _buffer.WrittenCount;
    }

    [GlobalCleanup]
    public void Cleanup() => Dispose();

    public void Dispose()
    {
        foreach (var output in _outputs)
        {
            output.Dispose();
        }

        _outputs = [];
        _inference?.Dispose();
        GC.SuppressFinalize(this);
    }
}
