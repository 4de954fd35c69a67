using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Serverless.Cli.Tests.Scoring;

/// <summary>A tensor on the test side: its name, element type, shape and row-major data (a typed array, e.g. <c>ulong[]</c>, <c>Float16[]</c>, <c>string[]</c>).</summary>
internal sealed record ReferenceTensor(string Name, TensorElementType ElementType, long[] Shape, Array Data);

/// <summary>
/// Runs a model in this process with ONNX Runtime for any element type the v2 protocol carries, and returns
/// every requested output with its type and shape: the reference the platform's answers must equal.
/// </summary>
internal static class DirectOnnxRuntimeValues
{
    /// <summary>Runs <paramref name="model"/> on <paramref name="inputs"/>; <paramref name="outputNames"/> null means all outputs, in the model's order.</summary>
    public static IReadOnlyList<ReferenceTensor> Run(byte[] model, IReadOnlyList<ReferenceTensor> inputs, IReadOnlyList<string>? outputNames = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        using var session = new InferenceSession(model);
        var names = outputNames ?? session.OutputNames;
        var values = new List<OrtValue>();
        try
        {
            foreach (var input in inputs)
            {
                values.Add(CreateValue(input));
            }

            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, names.ToArray());
            var results = new List<ReferenceTensor>(outputs.Count);
            for (var i = 0; i < outputs.Count; i++)
            {
                results.Add(Read(names[i], outputs[i]));
            }

            return results;
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    private static OrtValue CreateValue(ReferenceTensor input)
    {
        if (input.ElementType == TensorElementType.String)
        {
            var strings = (string[])input.Data;
            return OrtValue.CreateFromStringTensor(new DenseTensor<string>(strings, input.Shape.Select(d => checked((int)d)).ToArray()));
        }

        return input.ElementType switch
        {
            TensorElementType.Bool => OrtValue.CreateTensorValueFromMemory((bool[])input.Data, input.Shape),
            TensorElementType.Int8 => OrtValue.CreateTensorValueFromMemory((sbyte[])input.Data, input.Shape),
            TensorElementType.Int16 => OrtValue.CreateTensorValueFromMemory((short[])input.Data, input.Shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory((int[])input.Data, input.Shape),
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory((long[])input.Data, input.Shape),
            TensorElementType.UInt8 => OrtValue.CreateTensorValueFromMemory((byte[])input.Data, input.Shape),
            TensorElementType.UInt16 => OrtValue.CreateTensorValueFromMemory((ushort[])input.Data, input.Shape),
            TensorElementType.UInt32 => OrtValue.CreateTensorValueFromMemory((uint[])input.Data, input.Shape),
            TensorElementType.UInt64 => OrtValue.CreateTensorValueFromMemory((ulong[])input.Data, input.Shape),
            TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory((Float16[])input.Data, input.Shape),
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory((float[])input.Data, input.Shape),
            TensorElementType.Double => OrtValue.CreateTensorValueFromMemory((double[])input.Data, input.Shape),
            _ => throw new ArgumentException($"element type {input.ElementType} is not one the v2 protocol carries", nameof(input)),
        };
    }

    private static ReferenceTensor Read(string name, OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var type = info.ElementDataType;
        Array data = type switch
        {
            TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray(),
            TensorElementType.Int8 => value.GetTensorDataAsSpan<sbyte>().ToArray(),
            TensorElementType.Int16 => value.GetTensorDataAsSpan<short>().ToArray(),
            TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray(),
            TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
            TensorElementType.UInt8 => value.GetTensorDataAsSpan<byte>().ToArray(),
            TensorElementType.UInt16 => value.GetTensorDataAsSpan<ushort>().ToArray(),
            TensorElementType.UInt32 => value.GetTensorDataAsSpan<uint>().ToArray(),
            TensorElementType.UInt64 => value.GetTensorDataAsSpan<ulong>().ToArray(),
            TensorElementType.Float16 => value.GetTensorDataAsSpan<Float16>().ToArray(),
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray(),
            TensorElementType.String => value.GetStringTensorAsArray(),
            _ => throw new InvalidOperationException($"output '{name}' has element type {type}, which the v2 protocol cannot carry"),
        };
        return new ReferenceTensor(name, type, info.Shape, data);
    }
}
