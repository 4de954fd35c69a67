using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Serverless.Core.Scoring;

/// <summary>
/// Decodes a v2 inference request body into typed arrays. Every problem is a
/// <see cref="ScoringException"/> (400) that names the input and what is wrong with it.
/// </summary>
public static class InferenceRequestParser
{
    /// <summary>The most elements one input may have; bounds memory before any allocation.</summary>
    public const long MaxElements = 64L * 1024 * 1024;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    public static InferenceRequest Parse(ReadOnlyMemory<byte> body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new ScoringException($"request body is not valid JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ScoringException("request body must be a JSON object with an \"inputs\" array");
            }

            string? id = null;
            if (root.TryGetProperty("id", out var idElement))
            {
                id = idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : throw new ScoringException("\"id\" must be a string");
            }

            if (!root.TryGetProperty("inputs", out var inputsElement) || inputsElement.ValueKind != JsonValueKind.Array)
            {
                throw new ScoringException("request body must have an \"inputs\" array");
            }

            var inputs = new List<InputTensor>(inputsElement.GetArrayLength());
            foreach (var input in inputsElement.EnumerateArray())
            {
                var tensor = ParseInput(input);
                foreach (var existing in inputs)
                {
                    if (existing.Name == tensor.Name)
                    {
                        throw new ScoringException($"input '{tensor.Name}' is given more than once");
                    }
                }

                inputs.Add(tensor);
            }

            List<string>? outputs = null;
            if (root.TryGetProperty("outputs", out var outputsElement) && outputsElement.ValueKind != JsonValueKind.Null)
            {
                if (outputsElement.ValueKind != JsonValueKind.Array)
                {
                    throw new ScoringException("\"outputs\" must be an array of {\"name\": …} objects");
                }

                outputs = [];
                foreach (var output in outputsElement.EnumerateArray())
                {
                    if (output.ValueKind != JsonValueKind.Object || !output.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                    {
                        throw new ScoringException("each entry of \"outputs\" must be an object with a string \"name\"");
                    }

                    outputs.Add(name.GetString()!);
                }
            }

            return new InferenceRequest(id, inputs, outputs);
        }
    }

    private static InputTensor ParseInput(JsonElement input)
    {
        if (input.ValueKind != JsonValueKind.Object)
        {
            throw new ScoringException("each entry of \"inputs\" must be an object with \"name\", \"shape\", \"datatype\" and \"data\"");
        }

        if (!input.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String || nameElement.GetString() is not { Length: > 0 } name)
        {
            throw new ScoringException("an input has no \"name\"");
        }

        if (!input.TryGetProperty("datatype", out var datatypeElement) || datatypeElement.ValueKind != JsonValueKind.String)
        {
            throw new ScoringException($"input '{name}' has no \"datatype\"");
        }

        var datatype = datatypeElement.GetString();
        if (!TensorDatatypes.TryParse(datatype, out var elementType))
        {
            throw new ScoringException($"input '{name}' has unknown datatype '{datatype}'; use one of {TensorDatatypes.Supported}");
        }

        if (!input.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw new ScoringException($"input '{name}' has no \"shape\" array");
        }

        var shape = new long[shapeElement.GetArrayLength()];
        long count = 1;
        var i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var value) || value < 0)
            {
                throw new ScoringException($"input '{name}' has shape dimension {i} that is not a non-negative integer");
            }

            shape[i++] = value;
            count = value == 0 ? 0 : (count > MaxElements / value ? MaxElements + 1 : count * value);
        }

        if (count > MaxElements)
        {
            throw new ScoringException($"input '{name}' has shape [{string.Join(',', shape)}] with more than {MaxElements} elements, the limit");
        }

        if (!input.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            throw new ScoringException($"input '{name}' has no \"data\" array");
        }

        var array = CreateArray(elementType, (int)count);
        var filled = 0;
        Fill(name, datatype!, elementType, data, array, ref filled);
        if (filled != count)
        {
            throw new ScoringException($"input '{name}' has {filled} data elements but shape [{string.Join(',', shape)}] needs {count}");
        }

        return new InputTensor(name, elementType, shape, array);
    }

    private static Array CreateArray(TensorElementType type, int count) => type switch
    {
        TensorElementType.Bool => new bool[count],
        TensorElementType.Int8 => new sbyte[count],
        TensorElementType.Int16 => new short[count],
        TensorElementType.Int32 => new int[count],
        TensorElementType.Int64 => new long[count],
        TensorElementType.UInt8 => new byte[count],
        TensorElementType.UInt16 => new ushort[count],
        TensorElementType.UInt32 => new uint[count],
        TensorElementType.UInt64 => new ulong[count],
        TensorElementType.Float16 => new Float16[count],
        TensorElementType.Float => new float[count],
        TensorElementType.Double => new double[count],
        TensorElementType.String => new string[count],
        _ => throw new ScoringException($"datatype {type} is not supported"),
    };

    /// <summary>Flattens <paramref name="data"/> (flat or nested arrays, row-major) into the typed array.</summary>
    private static void Fill(string name, string datatype, TensorElementType type, JsonElement data, Array array, ref int filled)
    {
        foreach (var element in data.EnumerateArray())
        {
            if (element.ValueKind == JsonValueKind.Array)
            {
                Fill(name, datatype, type, element, array, ref filled);
                continue;
            }

            if (filled >= array.Length)
            {
                // Count the rest for the message, without storing them.
                filled++;
                continue;
            }

            if (!TrySet(type, element, array, filled))
            {
                throw new ScoringException($"input '{name}' element {filled} ({Describe(element)}) is not a valid {datatype} value");
            }

            filled++;
        }
    }

    private static bool TrySet(TensorElementType type, JsonElement e, Array array, int i)
    {
        switch (type)
        {
            case TensorElementType.Bool:
                if (e.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    ((bool[])array)[i] = e.GetBoolean();
                    return true;
                }

                if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var b) && b is 0 or 1)
                {
                    ((bool[])array)[i] = b == 1;
                    return true;
                }

                return false;
            case TensorElementType.Int8:
                return e.ValueKind == JsonValueKind.Number && e.TryGetSByte(out ((sbyte[])array)[i]);
            case TensorElementType.Int16:
                return e.ValueKind == JsonValueKind.Number && e.TryGetInt16(out ((short[])array)[i]);
            case TensorElementType.Int32:
                return e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out ((int[])array)[i]);
            case TensorElementType.Int64:
                return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out ((long[])array)[i]);
            case TensorElementType.UInt8:
                return e.ValueKind == JsonValueKind.Number && e.TryGetByte(out ((byte[])array)[i]);
            case TensorElementType.UInt16:
                return e.ValueKind == JsonValueKind.Number && e.TryGetUInt16(out ((ushort[])array)[i]);
            case TensorElementType.UInt32:
                return e.ValueKind == JsonValueKind.Number && e.TryGetUInt32(out ((uint[])array)[i]);
            case TensorElementType.UInt64:
                return e.ValueKind == JsonValueKind.Number && e.TryGetUInt64(out ((ulong[])array)[i]);
            case TensorElementType.Float16:
                if (TryGetDouble(e, out var h) && (!double.IsFinite(h) || Half.IsFinite((Half)h)))
                {
                    ((Float16[])array)[i] = new Float16(BitConverter.HalfToUInt16Bits((Half)h));
                    return true;
                }

                return false;
            case TensorElementType.Float:
                if (TryGetDouble(e, out var f) && (!double.IsFinite(f) || float.IsFinite((float)f)))
                {
                    ((float[])array)[i] = (float)f;
                    return true;
                }

                return false;
            case TensorElementType.Double:
                return TryGetDouble(e, out ((double[])array)[i]);
            case TensorElementType.String:
                if (e.ValueKind == JsonValueKind.String)
                {
                    ((string[])array)[i] = e.GetString()!;
                    return true;
                }

                return false;
            default:
                return false;
        }
    }

    /// <summary>Numbers, plus the strings "NaN", "Infinity" and "-Infinity" that JSON cannot write as numbers.</summary>
    private static bool TryGetDouble(JsonElement e, out double value)
    {
        if (e.ValueKind == JsonValueKind.Number)
        {
            return e.TryGetDouble(out value) && double.IsFinite(value);
        }

        value = 0;
        if (e.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        switch (e.GetString())
        {
            case "NaN":
                value = double.NaN;
                return true;
            case "Infinity":
                value = double.PositiveInfinity;
                return true;
            case "-Infinity":
                value = double.NegativeInfinity;
                return true;
            default:
                return false;
        }
    }

    private static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => e.GetRawText().Length > 40 ? "a number" : e.GetRawText(),
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        JsonValueKind.Object => "an object",
        _ => e.ValueKind.ToString(),
    };
}
