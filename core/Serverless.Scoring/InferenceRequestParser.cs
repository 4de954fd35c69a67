using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Serverless.Core.Serving;

namespace Serverless.Scoring;

/// <summary>
/// Decodes a v2 inference request body into typed arrays. Every problem is a
/// <see cref="ServingException"/> (400) that names the input and what is wrong with it.
/// </summary>
public static class InferenceRequestParser
{
    /// <summary>The most elements one input may have; bounds memory before any allocation.</summary>
    public const long MaxElements = 64L * 1024 * 1024;

    /// <summary>The most dimensions one input's shape may have.</summary>
    public const int MaxRank = 8;

    /// <summary>The longest one BYTES element may be, in UTF-8 bytes.</summary>
    public const int MaxStringBytes = 64 * 1024;

    /// <summary>The most inputs one request may have.</summary>
    public const int MaxInputs = 64;

    /// <summary>The longest input name accepted (names are echoed in error messages).</summary>
    public const int MaxNameLength = 1024;

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// Reads the body with <see cref="Utf8JsonReader"/> in one pass, straight into typed arrays: no DOM.
    /// An input's <c>data</c> may come before its <c>shape</c> and <c>datatype</c> (JSON objects are
    /// unordered), so its bytes are skipped and remembered, then decoded once the type and count are known.
    /// </summary>
    public static InferenceRequest Parse(ReadOnlyMemory<byte> body) => Parse(body, memory: null);

    /// <summary>
    /// <see cref="Parse(ReadOnlyMemory{byte})"/>, taking each decoded input's bytes from <paramref name="memory"/>
    /// before its buffer is allocated (413 or 503 when they do not fit: <see cref="RequestMemoryBudget"/>).
    /// </summary>
    public static InferenceRequest Parse(ReadOnlyMemory<byte> body, RequestMemory? memory)
    {
        var json = body.Span;
        var reader = new Utf8JsonReader(json, ReaderOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new ServingException(ServingErrorCode.InvalidArgument, "request body must be a JSON object with an \"inputs\" array");
            }

            string? id = null;
            List<InputTensor>? inputs = null;
            List<string>? outputs = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("inputs"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        throw new ServingException(ServingErrorCode.InvalidArgument, "request body must have an \"inputs\" array");
                    }

                    inputs = [];
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (inputs.Count == MaxInputs)
                        {
                            throw new ServingException(ServingErrorCode.InvalidArgument, $"request has more than {MaxInputs} inputs, the limit on inputs per request");
                        }

                        var tensor = ParseInput(ref reader, json, memory);
                        foreach (var existing in inputs)
                        {
                            if (existing.Name == tensor.Name)
                            {
                                throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{tensor.Name}' is given more than once");
                            }
                        }

                        inputs.Add(tensor);
                    }
                }
                else if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = reader.TokenType == JsonTokenType.String ? reader.GetString() : throw new ServingException(ServingErrorCode.InvalidArgument, "\"id\" must be a string");
                }
                else if (reader.ValueTextEquals("outputs"u8))
                {
                    reader.Read();
                    outputs = ParseOutputs(ref reader);
                }
                else
                {
                    // "parameters" and anything else: not used, but must still be valid JSON.
                    reader.Read();
                    reader.Skip();
                }
            }

            // Anything after the root object is malformed JSON; Read throws on it.
            while (reader.Read())
            {
            }

            if (inputs is null)
            {
                throw new ServingException(ServingErrorCode.InvalidArgument, "request body must have an \"inputs\" array");
            }

            return new InferenceRequest(id, inputs, outputs);
        }
        catch (JsonException e)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"request body is not valid JSON: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader.GetString throws this for a string that is not valid UTF-8 (or has a lone surrogate).
            throw new ServingException(ServingErrorCode.InvalidArgument, $"request body is not valid JSON text: {e.Message}");
        }
    }

    private static List<string>? ParseOutputs(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, "\"outputs\" must be an array of {\"name\": …} objects");
        }

        var outputs = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            string? name = null;
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isName = reader.ValueTextEquals("name"u8);
                    reader.Read();
                    if (isName && reader.TokenType == JsonTokenType.String)
                    {
                        name = reader.GetString();
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Skip();
            }

            outputs.Add(name ?? throw new ServingException(ServingErrorCode.InvalidArgument, "each entry of \"outputs\" must be an object with a string \"name\""));
        }

        return outputs;
    }

    private static InputTensor ParseInput(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, RequestMemory? memory)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, "each entry of \"inputs\" must be an object with \"name\", \"shape\", \"datatype\" and \"data\"");
        }

        string? name = null;
        string? datatype = null;
        var hasDatatype = false;
        List<long>? shapeList = null;
        var shapeError = (int?)null;
        var hasShape = false;
        var rank = 0;
        var dataStart = -1L;
        var dataEnd = -1L;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("name"u8))
            {
                reader.Read();
                name = reader.TokenType == JsonTokenType.String ? reader.GetString() : SkipAndNull(ref reader);
            }
            else if (reader.ValueTextEquals("datatype"u8))
            {
                reader.Read();
                hasDatatype = reader.TokenType == JsonTokenType.String;
                datatype = hasDatatype ? reader.GetString() : SkipAndNull(ref reader);
            }
            else if (reader.ValueTextEquals("shape"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    reader.Skip();
                    continue;
                }

                hasShape = true;
                shapeList = [];
                rank = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    // Past the rank limit the dimensions are only counted (for the message), not kept.
                    if (++rank > MaxRank)
                    {
                        reader.Skip();
                        continue;
                    }

                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var dim) || dim < 0)
                    {
                        shapeError ??= shapeList.Count;
                        reader.Skip();
                        shapeList.Add(0);
                        continue;
                    }

                    shapeList.Add(dim);
                }
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    dataStart = reader.TokenStartIndex;
                    reader.Skip();
                    dataEnd = reader.BytesConsumed;
                }
                else
                {
                    reader.Skip();
                    dataStart = dataEnd = -1;
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (name is not { Length: > 0 })
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, "an input has no \"name\"");
        }

        if (name.Length > MaxNameLength)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"an input name of {name.Length} characters is over the limit of {MaxNameLength} characters");
        }

        if (!hasDatatype)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has no \"datatype\"");
        }

        if (!TensorDatatypes.TryParse(datatype, out var elementType))
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has unknown datatype '{Truncate(datatype)}'; use one of {TensorDatatypes.Supported}");
        }

        if (!hasShape)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has no \"shape\" array");
        }

        if (rank > MaxRank)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has a shape of rank {rank}, over the limit of {MaxRank} dimensions (max rank)");
        }

        if (shapeError is { } badDim)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has shape dimension {badDim} that is not a non-negative integer");
        }

        var shape = shapeList!.ToArray();
        long count = 1;
        foreach (var value in shape)
        {
            count = value == 0 ? 0 : (count > MaxElements / value ? MaxElements + 1 : count * value);
        }

        if (count > MaxElements)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has shape [{string.Join(',', shape)}] with more than {MaxElements} elements, the limit");
        }

        if (dataStart < 0)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has no \"data\" array");
        }

        // Count before allocating: n elements take at least 2n + 1 bytes of JSON ("[1,2]"), so a shape its data cannot
        // fill (the 90-byte request declaring 2^26 doubles) is refused by counting the data, with no buffer at all.
        var dataBytes = dataEnd - dataStart;
        if (count > (dataBytes - 1) / 2)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has {CountElements(json[(int)dataStart..(int)dataEnd])} data elements but shape [{string.Join(',', shape)}] needs {count}");
        }

        memory?.TakeInput(DecodedBytes(elementType, count, dataBytes), name);
        var array = CreateArray(elementType, (int)count);
        var filled = 0;
        var data = new Utf8JsonReader(json[(int)dataStart..(int)dataEnd], ReaderOptions);
        var nestingError = Fill(name, datatype!, elementType, ref data, array, shape, ref filled);
        if (filled != count)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has {filled} data elements but shape [{string.Join(',', shape)}] needs {count}");
        }

        if (nestingError is not null)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has nested \"data\" that does not follow its shape [{string.Join(',', shape)}]: {nestingError}; send it flat, or nested exactly as the shape");
        }

        return new InputTensor(name, elementType, shape, array);
    }

    /// <summary>
    /// The UTF-8 length of a string token, without unescaping it when the raw length already decides:
    /// unescaping never makes a string longer.
    /// </summary>
    private static int StringBytes(ref Utf8JsonReader reader)
    {
        var raw = reader.HasValueSequence ? (int)Math.Min(reader.ValueSequence.Length, int.MaxValue) : reader.ValueSpan.Length;
        if (raw <= MaxStringBytes || !reader.ValueIsEscaped)
        {
            return raw;
        }

        return System.Text.Encoding.UTF8.GetByteCount(reader.GetString()!);
    }

    private static string? Truncate(string? text) => text is { Length: > 64 } ? text[..64] + "…" : text;

    private static string? SkipAndNull(ref Utf8JsonReader reader)
    {
        reader.Skip();
        return null;
    }

    /// <summary>The leaf elements of a data array, flat or nested, counted without decoding them.</summary>
    private static long CountElements(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data, ReaderOptions);
        long elements = 0;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                case JsonTokenType.EndArray:
                    continue;
                case JsonTokenType.StartObject:
                    reader.Skip();
                    break;
            }

            elements++;
        }

        return elements;
    }

    /// <summary>
    /// What an input's decoded buffer holds in memory: its elements for numbers; for BYTES a reference and a string
    /// object per element plus the characters (at most the JSON's bytes, as UTF-16).
    /// </summary>
    public static long DecodedBytes(TensorElementType type, long count, long jsonBytes) => type switch
    {
        TensorElementType.Bool or TensorElementType.Int8 or TensorElementType.UInt8 => count,
        TensorElementType.Int16 or TensorElementType.UInt16 or TensorElementType.Float16 => 2 * count,
        TensorElementType.Int32 or TensorElementType.UInt32 or TensorElementType.Float => 4 * count,
        TensorElementType.String => (8 + 24) * count + 2 * jsonBytes,
        _ => 8 * count,
    };

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
        _ => throw new ServingException(ServingErrorCode.InvalidArgument, $"datatype {type} is not supported"),
    };

    /// <summary>
    /// Flattens the data array (flat or nested, row-major) into the typed array. Nested data must follow
    /// the shape exactly (every element at depth rank, each array as long as its dimension); the first place
    /// where it does not is returned (the caller reports it after the element count, which says more).
    /// </summary>
    private static string? Fill(string name, string datatype, TensorElementType type, ref Utf8JsonReader reader, Array array, long[] shape, ref int filled)
    {
        string? nestingError = null;
        var depth = 0;
        var maxDepth = 0;
        var leafDepth = -1;
        Span<long> counts = stackalloc long[MaxRank + 2];
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    if (depth > 0)
                    {
                        counts[depth]++;
                    }

                    depth++;
                    maxDepth = Math.Max(maxDepth, depth);
                    if (depth > Math.Max(shape.Length, 1))
                    {
                        throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' has \"data\" arrays nested {depth} deep for its shape [{string.Join(',', shape)}] of rank {shape.Length}; send it flat, or nested exactly as the shape");
                    }

                    counts[depth] = 0;
                    continue;
                case JsonTokenType.EndArray:
                    if (maxDepth > 1 && nestingError is null && counts[depth] != shape[depth - 1])
                    {
                        nestingError = $"an array at depth {depth} has {counts[depth]} items where dimension {depth - 1} is {shape[depth - 1]}";
                    }

                    depth--;
                    continue;
                case JsonTokenType.StartObject:
                    throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' element {filled} (an object) is not a valid {datatype} value");
            }

            counts[depth]++;
            if (leafDepth < 0)
            {
                leafDepth = depth;
            }
            else if (leafDepth != depth && nestingError is null)
            {
                nestingError = $"element {filled} is at depth {depth} where the elements before it are at depth {leafDepth}";
            }

            if (leafDepth > 1 && leafDepth != shape.Length && nestingError is null)
            {
                nestingError = $"elements are at depth {leafDepth} for a shape of rank {shape.Length}";
            }

            if (filled >= array.Length)
            {
                // Count the rest for the message, without storing them.
                filled++;
                continue;
            }

            if (type == TensorElementType.String && reader.TokenType == JsonTokenType.String && StringBytes(ref reader) is var bytes && bytes > MaxStringBytes)
            {
                throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' element {filled} is a string of {bytes} bytes, over the limit of {MaxStringBytes} bytes (64 KiB) per BYTES element");
            }

            if (!TrySet(type, ref reader, array, filled))
            {
                throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' element {filled} ({Describe(ref reader)}) is not a valid {datatype} value");
            }

            filled++;
        }

        return nestingError;
    }

    private static bool TrySet(TensorElementType type, ref Utf8JsonReader e, Array array, int i)
    {
        var isNumber = e.TokenType == JsonTokenType.Number;
        switch (type)
        {
            case TensorElementType.Bool:
                if (e.TokenType is JsonTokenType.True or JsonTokenType.False)
                {
                    ((bool[])array)[i] = e.GetBoolean();
                    return true;
                }

                if (isNumber && e.TryGetInt32(out var b) && b is 0 or 1)
                {
                    ((bool[])array)[i] = b == 1;
                    return true;
                }

                return false;
            case TensorElementType.Int8:
                return isNumber && e.TryGetSByte(out ((sbyte[])array)[i]);
            case TensorElementType.Int16:
                return isNumber && e.TryGetInt16(out ((short[])array)[i]);
            case TensorElementType.Int32:
                return isNumber && e.TryGetInt32(out ((int[])array)[i]);
            case TensorElementType.Int64:
                return isNumber && e.TryGetInt64(out ((long[])array)[i]);
            case TensorElementType.UInt8:
                return isNumber && e.TryGetByte(out ((byte[])array)[i]);
            case TensorElementType.UInt16:
                return isNumber && e.TryGetUInt16(out ((ushort[])array)[i]);
            case TensorElementType.UInt32:
                return isNumber && e.TryGetUInt32(out ((uint[])array)[i]);
            case TensorElementType.UInt64:
                return isNumber && e.TryGetUInt64(out ((ulong[])array)[i]);
            case TensorElementType.Float16:
                if (TryGetDouble(ref e, out var h) && (!double.IsFinite(h) || Half.IsFinite((Half)h)))
                {
                    ((Float16[])array)[i] = new Float16(BitConverter.HalfToUInt16Bits((Half)h));
                    return true;
                }

                return false;
            case TensorElementType.Float:
                if (TryGetDouble(ref e, out var f) && (!double.IsFinite(f) || float.IsFinite((float)f)))
                {
                    ((float[])array)[i] = (float)f;
                    return true;
                }

                return false;
            case TensorElementType.Double:
                return TryGetDouble(ref e, out ((double[])array)[i]);
            case TensorElementType.String:
                if (e.TokenType == JsonTokenType.String)
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
    private static bool TryGetDouble(ref Utf8JsonReader e, out double value)
    {
        if (e.TokenType == JsonTokenType.Number)
        {
            return e.TryGetDouble(out value) && double.IsFinite(value);
        }

        value = 0;
        if (e.TokenType != JsonTokenType.String)
        {
            return false;
        }

        if (e.ValueTextEquals("NaN"u8))
        {
            value = double.NaN;
            return true;
        }

        if (e.ValueTextEquals("Infinity"u8))
        {
            value = double.PositiveInfinity;
            return true;
        }

        if (e.ValueTextEquals("-Infinity"u8))
        {
            value = double.NegativeInfinity;
            return true;
        }

        return false;
    }

    private static string Describe(ref Utf8JsonReader e) => e.TokenType switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => e.ValueSpan.Length > 40 ? "a number" : System.Text.Encoding.UTF8.GetString(e.ValueSpan),
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => e.TokenType.ToString(),
    };
}
