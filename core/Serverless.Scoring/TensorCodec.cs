using System.Buffers;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Serverless.Core.Serving;

namespace Serverless.Scoring;

/// <summary>
/// Turns decoded v2 inputs into <see cref="OrtValue"/>s (checked against the session's inputs) and
/// writes a session's outputs as a v2 answer with <see cref="Utf8JsonWriter"/>, straight from their spans.
/// </summary>
public static class TensorCodec
{
    /// <summary>
    /// Checks the request's inputs against the model's and wraps them in <see cref="OrtValue"/>s, in the
    /// model's input order. The caller disposes the values.
    /// </summary>
    public static OrtValue[] CreateInputs(ModelSession session, InferenceRequest request, out string[] inputNames)
    {
        var modelInputs = session.Inputs;
        foreach (var given in request.Inputs)
        {
            if (Find(modelInputs, given.Name) is null)
            {
                throw new ServingException(ServingErrorCode.InvalidArgument, $"model '{session.Model}' has no input '{given.Name}'; its inputs are: {Names(modelInputs)}");
            }
        }

        inputNames = new string[modelInputs.Length];
        var values = new OrtValue[modelInputs.Length];
        var created = 0;
        try
        {
            for (var i = 0; i < modelInputs.Length; i++)
            {
                var expected = modelInputs[i];
                var given = Find(request.Inputs, expected.Name)
                    ?? throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{expected.Name}' is missing; model '{session.Model}' needs: {Names(modelInputs)}");
                Check(expected, given);
                inputNames[i] = expected.Name;
                values[i] = CreateValue(given);
                created++;
            }

            return values;
        }
        catch
        {
            for (var i = 0; i < created; i++)
            {
                values[i].Dispose();
            }

            throw;
        }
    }

    /// <summary>Checks the request's inputs against the model's (names, datatypes, shapes) without creating values.</summary>
    public static void Validate(ModelSession session, InferenceRequest request)
    {
        var modelInputs = session.Inputs;
        foreach (var given in request.Inputs)
        {
            if (Find(modelInputs, given.Name) is null)
            {
                throw new ServingException(ServingErrorCode.InvalidArgument, $"model '{session.Model}' has no input '{given.Name}'; its inputs are: {Names(modelInputs)}");
            }
        }

        foreach (var expected in modelInputs)
        {
            var given = Find(request.Inputs, expected.Name)
                ?? throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{expected.Name}' is missing; model '{session.Model}' needs: {Names(modelInputs)}");
            Check(expected, given);
        }
    }

    /// <summary>The output names to run: the request's <c>outputs</c> filter, checked, or all of them.</summary>
    public static string[] SelectOutputs(ModelSession session, InferenceRequest request)
    {
        if (request.RequestedOutputs is null)
        {
            return session.OutputNames;
        }

        var names = new string[request.RequestedOutputs.Count];
        for (var i = 0; i < names.Length; i++)
        {
            var name = request.RequestedOutputs[i];
            if (Find(session.Outputs, name) is null)
            {
                throw new ServingException(ServingErrorCode.InvalidArgument, $"model '{session.Model}' has no output '{name}'; its outputs are: {Names(session.Outputs)}");
            }

            names[i] = name;
        }

        return names;
    }

    /// <summary>
    /// Refuses (400, naming the cap) outputs over <paramref name="maxBytes"/> before anything is encoded: a model whose
    /// output size comes from its input (<c>ConstantOfShape(input)</c>) must not make the JSON writer allocate gigabytes.
    /// <paramref name="share"/> is the part of the outputs one request of a batch answers (1 for a lone run).
    /// </summary>
    public static void CheckOutputSize(string model, IReadOnlyList<string> outputNames, IReadOnlyList<OrtValue> outputs, double share, long maxBytes, bool capFromModel)
    {
        long total = 0;
        for (var i = 0; i < outputs.Count; i++)
        {
            if (outputs[i].OnnxType != OnnxValueType.ONNX_TYPE_TENSOR)
            {
                continue;
            }

            var info = outputs[i].GetTensorTypeAndShape();
            var elements = (long)(info.ElementCount * share);
            // Strings: at least a reference and an empty string's JSON each; their text is checked as it is written.
            total += info.ElementDataType == TensorElementType.String ? 16 * elements : InferenceRequestParser.DecodedBytes(info.ElementDataType, elements, 0);
            if (total > maxBytes)
            {
                var source = capFromModel ? "maxOutputBytes in its model.json" : "the default, Shard__DefaultMaxOutputBytes; a model may set maxOutputBytes in its model.json";
                throw new ServingException(ServingError.InvalidArgument($"model '{model}' would answer over {total:N0} bytes of outputs (output '{outputNames[i]}' has shape [{string.Join(',', info.Shape)}]), over its output cap of {maxBytes:N0} bytes ({source}); ask for a smaller output"));
            }
        }
    }

    /// <summary>Writes the v2 answer for the outputs of one run.</summary>
    public static void WriteResponse(IBufferWriter<byte> buffer, string model, string version, string? id, string[] outputNames, IReadOnlyList<OrtValue> outputs) =>
        WriteResponse(buffer, model, version, id, outputNames, outputs, rowStart: 0, rowCount: -1);

    /// <summary>
    /// Writes the v2 answer for some rows (first dimension) of the outputs of a batched run: the answer of
    /// one request of the batch, straight from the batch's output spans, with no copy.
    /// <paramref name="rowCount"/> -1 means all rows.
    /// </summary>
    public static void WriteResponse(IBufferWriter<byte> buffer, string model, string version, string? id, IReadOnlyList<string> outputNames, IReadOnlyList<OrtValue> outputs, long rowStart, long rowCount)
    {
        using var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.WriteStartObject();
        writer.WriteString("model_name"u8, model);
        writer.WriteString("model_version"u8, version);
        if (id is not null)
        {
            writer.WriteString("id"u8, id);
        }

        writer.WriteStartArray("outputs"u8);
        for (var i = 0; i < outputs.Count; i++)
        {
            WriteOutput(writer, outputNames[i], outputs[i], rowStart, rowCount);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void Check(SessionTensor expected, InputTensor given)
    {
        if (expected.ValueType != OnnxValueType.ONNX_TYPE_TENSOR)
        {
            throw new ServingException(ServingErrorCode.Unsupported, $"input '{expected.Name}' is a {expected.Datatype}, which the v2 JSON protocol cannot carry");
        }

        if (expected.ElementType != given.ElementType)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{given.Name}' has datatype {TensorDatatypes.ToDatatype(given.ElementType)} but the model expects {expected.Datatype}");
        }

        if (expected.Shape.Length != given.Shape.Length)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{given.Name}' has shape [{string.Join(',', given.Shape)}] (rank {given.Shape.Length}) but the model expects [{string.Join(',', expected.Shape)}] (rank {expected.Shape.Length})");
        }

        for (var d = 0; d < expected.Shape.Length; d++)
        {
            if (expected.Shape[d] >= 0 && expected.Shape[d] != given.Shape[d])
            {
                throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{given.Name}' has shape [{string.Join(',', given.Shape)}] but the model expects [{string.Join(',', expected.Shape)}] (dimension {d} must be {expected.Shape[d]}; -1 means any)");
            }
        }
    }

    // Switch on the declared element type, not on the array: the CLR lets a byte[] pass as an sbyte[]
    // (and ulong[] as long[]) in a type test, which would wrap unsigned data as a signed tensor.
    private static OrtValue CreateValue(InputTensor input) => input.ElementType switch
    {
        TensorElementType.Float => OrtValue.CreateTensorValueFromMemory((float[])input.Data, input.Shape),
        TensorElementType.Double => OrtValue.CreateTensorValueFromMemory((double[])input.Data, input.Shape),
        TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory((long[])input.Data, input.Shape),
        TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory((int[])input.Data, input.Shape),
        TensorElementType.Int16 => OrtValue.CreateTensorValueFromMemory((short[])input.Data, input.Shape),
        TensorElementType.Int8 => OrtValue.CreateTensorValueFromMemory((sbyte[])input.Data, input.Shape),
        TensorElementType.UInt8 => OrtValue.CreateTensorValueFromMemory((byte[])input.Data, input.Shape),
        TensorElementType.UInt64 => OrtValue.CreateTensorValueFromMemory((ulong[])input.Data, input.Shape),
        TensorElementType.UInt32 => OrtValue.CreateTensorValueFromMemory((uint[])input.Data, input.Shape),
        TensorElementType.UInt16 => OrtValue.CreateTensorValueFromMemory((ushort[])input.Data, input.Shape),
        TensorElementType.Bool => OrtValue.CreateTensorValueFromMemory((bool[])input.Data, input.Shape),
        TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory((Float16[])input.Data, input.Shape),
        TensorElementType.String => CreateStringValue((string[])input.Data, input.Shape),
        _ => throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{input.Name}' has an unsupported datatype"),
    };

    private static OrtValue CreateStringValue(string[] data, long[] shape)
    {
        var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
        try
        {
            for (var i = 0; i < data.Length; i++)
            {
                value.StringTensorSetElementAt(data[i].AsSpan(), i);
            }

            return value;
        }
        catch
        {
            value.Dispose();
            throw;
        }
    }

    private static void WriteOutput(Utf8JsonWriter writer, string name, OrtValue value, long rowStart, long rowCount)
    {
        if (value.OnnxType == OnnxValueType.ONNX_TYPE_SEQUENCE)
        {
            WriteSequenceOfMaps(writer, name, value);
            return;
        }

        if (value.OnnxType != OnnxValueType.ONNX_TYPE_TENSOR)
        {
            throw new ServingException(ServingErrorCode.Unsupported, $"output '{name}' is a {value.OnnxType}, which the v2 JSON protocol cannot carry (ask for the tensor outputs with \"outputs\")");
        }

        var info = value.GetTensorTypeAndShape();
        var type = info.ElementDataType;
        var datatype = TensorDatatypes.ToDatatype(type)
            ?? throw new ServingException(ServingErrorCode.Unsupported, $"output '{name}' has element type {type}, which the v2 protocol cannot carry");
        writer.WriteStartObject();
        writer.WriteString("name"u8, name);
        writer.WriteString("datatype"u8, datatype);
        var shape = info.Shape;
        var total = info.ElementCount;
        long first = 0;
        long length = total;
        if (rowCount >= 0)
        {
            // One request's rows of a batched output: dimension 0 is the batch.
            var perRow = shape.Length == 0 || shape[0] == 0 ? 0 : total / shape[0];
            first = rowStart * perRow;
            length = rowCount * perRow;
        }

        writer.WriteStartArray("shape"u8);
        for (var d = 0; d < shape.Length; d++)
        {
            writer.WriteNumberValue(d == 0 && rowCount >= 0 ? rowCount : shape[d]);
        }

        writer.WriteEndArray();
        writer.WriteStartArray("data"u8);
        var start = (int)first;
        var count = (int)length;
        switch (type)
        {
            case TensorElementType.Float:
                foreach (var v in value.GetTensorDataAsSpan<float>().Slice(start, count)) WriteDouble(writer, v, isSingle: true);
                break;
            case TensorElementType.Double:
                foreach (var v in value.GetTensorDataAsSpan<double>().Slice(start, count)) WriteDouble(writer, v, isSingle: false);
                break;
            case TensorElementType.Float16:
                foreach (var v in value.GetTensorDataAsSpan<Float16>().Slice(start, count)) WriteDouble(writer, (float)BitConverter.UInt16BitsToHalf(v.value), isSingle: true);
                break;
            case TensorElementType.Int64:
                foreach (var v in value.GetTensorDataAsSpan<long>().Slice(start, count)) writer.WriteNumberValue(v);
                break;
            case TensorElementType.Int32:
                foreach (var v in value.GetTensorDataAsSpan<int>().Slice(start, count)) writer.WriteNumberValue(v);
                break;
            case TensorElementType.Int16:
                foreach (var v in value.GetTensorDataAsSpan<short>().Slice(start, count)) writer.WriteNumberValue(v);
                break;
            case TensorElementType.Int8:
                foreach (var v in value.GetTensorDataAsSpan<sbyte>().Slice(start, count)) writer.WriteNumberValue(v);
                break;
            case TensorElementType.UInt64:
                foreach (var v in value.GetTensorDataAsSpan<ulong>().Slice(start, count)) writer.WriteNumberValue(v);
                break;
            case TensorElementType.UInt32:
                foreach (var v in value.GetTensorDataAsSpan<uint>().Slice(start, count)) writer.WriteNumberValue(v);
                break;
            case TensorElementType.UInt16:
                foreach (var v in value.GetTensorDataAsSpan<ushort>().Slice(start, count)) writer.WriteNumberValue(v);
                break;
            case TensorElementType.UInt8:
                foreach (var v in value.GetTensorDataAsSpan<byte>().Slice(start, count)) writer.WriteNumberValue(v);
                break;
            case TensorElementType.Bool:
                foreach (var v in value.GetTensorDataAsSpan<bool>().Slice(start, count)) writer.WriteBooleanValue(v);
                break;
            case TensorElementType.String:
                for (var i = start; i < start + count; i++)
                {
                    writer.WriteStringValue(value.GetStringElement(i));
                }

                break;
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>
    /// A sequence of maps (scikit-learn classifiers' <c>ZipMap</c> output) as
    /// <c>{"name", "datatype": "MAP", "shape": [n], "data": [{"label": probability, …}, …]}</c>: one JSON
    /// object per row, keys as strings (integer labels too, since JSON keys are strings).
    /// </summary>
    private static void WriteSequenceOfMaps(Utf8JsonWriter writer, string name, OrtValue sequence)
    {
        var count = sequence.GetValueCount();
        writer.WriteStartObject();
        writer.WriteString("name"u8, name);
        writer.WriteString("datatype"u8, SessionTensor.MapDatatype);
        writer.WriteStartArray("shape"u8);
        writer.WriteNumberValue(count);
        writer.WriteEndArray();
        writer.WriteStartArray("data"u8);
        var allocator = OrtAllocator.DefaultInstance;
        for (var i = 0; i < count; i++)
        {
            using var map = sequence.GetValue(i, allocator);
            if (map.OnnxType != OnnxValueType.ONNX_TYPE_MAP)
            {
                throw new ServingException(ServingErrorCode.Unsupported, $"output '{name}' is a sequence of {map.OnnxType}, which the v2 JSON protocol cannot carry");
            }

            using var keys = map.GetValue(0, allocator);
            using var values = map.GetValue(1, allocator);
            var keyType = keys.GetTensorTypeAndShape().ElementDataType;
            var valueType = values.GetTensorTypeAndShape().ElementDataType;
            var keyCount = (int)keys.GetTensorTypeAndShape().ElementCount;
            writer.WriteStartObject();
            for (var k = 0; k < keyCount; k++)
            {
                switch (keyType)
                {
                    case TensorElementType.String:
                        writer.WritePropertyName(keys.GetStringElement(k));
                        break;
                    case TensorElementType.Int64:
                        writer.WritePropertyName(keys.GetTensorDataAsSpan<long>()[k].ToString(System.Globalization.CultureInfo.InvariantCulture));
                        break;
                    default:
                        throw new ServingException(ServingErrorCode.Unsupported, $"output '{name}' has map keys of type {keyType}, which the v2 JSON protocol cannot carry");
                }

                switch (valueType)
                {
                    case TensorElementType.Float:
                        WriteDouble(writer, values.GetTensorDataAsSpan<float>()[k], isSingle: true);
                        break;
                    case TensorElementType.Double:
                        WriteDouble(writer, values.GetTensorDataAsSpan<double>()[k], isSingle: false);
                        break;
                    case TensorElementType.Int64:
                        writer.WriteNumberValue(values.GetTensorDataAsSpan<long>()[k]);
                        break;
                    case TensorElementType.String:
                        writer.WriteStringValue(values.GetStringElement(k));
                        break;
                    default:
                        throw new ServingException(ServingErrorCode.Unsupported, $"output '{name}' has map values of type {valueType}, which the v2 JSON protocol cannot carry");
                }
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>JSON has no NaN or infinities: they are written as the strings the parser accepts back.</summary>
    private static void WriteDouble(Utf8JsonWriter writer, double v, bool isSingle)
    {
        if (double.IsFinite(v))
        {
            if (isSingle)
            {
                // Shortest round-trip form of the float, not of its widened double.
                writer.WriteNumberValue((float)v);
            }
            else
            {
                writer.WriteNumberValue(v);
            }
        }
        else
        {
            writer.WriteStringValue(double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
        }
    }

    private static SessionTensor? Find(SessionTensor[] tensors, string name)
    {
        foreach (var t in tensors)
        {
            if (t.Name == name)
            {
                return t;
            }
        }

        return null;
    }

    private static InputTensor? Find(List<InputTensor> tensors, string name)
    {
        foreach (var t in tensors)
        {
            if (t.Name == name)
            {
                return t;
            }
        }

        return null;
    }

    private static string Names(SessionTensor[] tensors)
    {
        var names = new string[tensors.Length];
        for (var i = 0; i < tensors.Length; i++)
        {
            names[i] = $"{tensors[i].Name} ({tensors[i].Datatype} [{string.Join(',', tensors[i].Shape)}])";
        }

        return string.Join(", ", names);
    }
}
