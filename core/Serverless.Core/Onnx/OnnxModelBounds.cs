using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Serverless.Core.Onnx;

/// <summary>
/// Bounds a dropped model must keep before ONNX Runtime opens it, so a malicious or broken file cannot take the
/// publisher (or later a shard) down while a session is created: how many nodes, how deeply graphs nest (If and
/// Loop bodies), how many elements a tensor declares, and how large a tensor a constant-shaped
/// <c>ConstantOfShape</c> or <c>Expand</c> would make, which ORT's constant folding builds at session creation
/// (a "zip bomb": a few bytes of shape that unfold into terabytes). Reads the protobuf directly, never the whole
/// model into objects.
/// </summary>
public static class OnnxModelBounds
{
    /// <summary>Nodes in all graphs together.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>Graphs inside graphs (If/Loop/Scan bodies).</summary>
    public const int MaxGraphNesting = 16;

    /// <summary>Elements one tensor may declare, or a constant-shaped op produce (2^28: 1 GiB of FP32).</summary>
    public const long MaxTensorElements = 1L << 28;

    // Field numbers from onnx.proto3.
    private const int ModelGraph = 7;
    private const int GraphNode = 1;
    private const int GraphInitializer = 5;
    private const int NodeInput = 1;
    private const int NodeOutput = 2;
    private const int NodeOpType = 4;
    private const int NodeAttribute = 5;
    private const int AttributeTensor = 5;
    private const int AttributeGraph = 6;
    private const int AttributeTensors = 10;
    private const int AttributeGraphs = 11;
    private const int TensorDims = 1;
    private const int TensorDataType = 2;
    private const int TensorInt64Data = 7;
    private const int TensorName = 8;
    private const int TensorRawData = 9;
    private const int Int64DataType = 7;

    /// <summary>Null when the model keeps every bound (or is not readable protobuf, which ORT then rejects); else the bound it breaks.</summary>
    public static string? Check(ReadOnlySpan<byte> model)
    {
        var state = new WalkState();
        var position = 0;
        while (position < model.Length)
        {
            if (!TryField(model, ref position, out var field, out var wire, out var payload))
            {
                return null;
            }

            if (field == ModelGraph && wire == 2)
            {
                CheckGraph(payload, 1, state);
                if (state.Violation is not null)
                {
                    return state.Violation;
                }
            }
        }

        return state.Violation;
    }

    private static void CheckGraph(ReadOnlySpan<byte> graph, int nesting, WalkState state)
    {
        if (nesting > MaxGraphNesting)
        {
            state.Violation ??= $"graphs nest more than {MaxGraphNesting} deep (If/Loop/Scan bodies inside each other); this platform refuses such models";
            return;
        }

        // Small int64 constants of this graph by name (shape tensors), from initializers first.
        var constants = new Dictionary<string, long[]>(StringComparer.Ordinal);
        var position = 0;
        while (position < graph.Length && state.Violation is null)
        {
            if (!TryField(graph, ref position, out var field, out var wire, out var payload) || wire != 2)
            {
                continue;
            }

            if (field == GraphInitializer)
            {
                CheckTensor(payload, state, constants);
            }
        }

        position = 0;
        while (position < graph.Length && state.Violation is null)
        {
            if (!TryField(graph, ref position, out var field, out var wire, out var payload) || wire != 2)
            {
                continue;
            }

            if (field == GraphNode)
            {
                if (++state.Nodes > MaxNodes)
                {
                    state.Violation = string.Create(CultureInfo.InvariantCulture, $"the model has more than {MaxNodes:N0} nodes; this platform refuses graphs that large");
                    return;
                }

                CheckNode(payload, nesting, state, constants);
            }
        }
    }

    private static void CheckNode(ReadOnlySpan<byte> node, int nesting, WalkState state, Dictionary<string, long[]> constants)
    {
        string? opType = null;
        var inputs = new List<string>(2);
        string? output = null;
        long[]? valueTensor = null;
        var position = 0;
        while (position < node.Length && state.Violation is null)
        {
            if (!TryField(node, ref position, out var field, out var wire, out var payload) || wire != 2)
            {
                continue;
            }

            switch (field)
            {
                case NodeInput:
                    inputs.Add(Encoding.UTF8.GetString(payload));
                    break;
                case NodeOutput:
                    output ??= Encoding.UTF8.GetString(payload);
                    break;
                case NodeOpType:
                    opType = Encoding.UTF8.GetString(payload);
                    break;
                case NodeAttribute:
                    valueTensor = CheckAttribute(payload, nesting, state) ?? valueTensor;
                    break;
            }
        }

        if (state.Violation is not null)
        {
            return;
        }

        // A Constant node holding a small int64 tensor is a shape constant like an initializer.
        if (opType == "Constant" && output is not null && valueTensor is not null)
        {
            constants[output] = valueTensor;
        }

        var shapeInput = opType switch
        {
            "ConstantOfShape" => 0,
            "Expand" => 1,
            _ => -1,
        };
        if (shapeInput >= 0 && shapeInput < inputs.Count && constants.TryGetValue(inputs[shapeInput], out var shape))
        {
            var elements = Product(shape);
            if (elements > MaxTensorElements)
            {
                state.Violation = string.Create(CultureInfo.InvariantCulture,
                    $"node {opType} ('{output}') would build a tensor of shape [{string.Join(',', shape)}] ({(elements == long.MaxValue ? "more than 9.2e18" : elements.ToString("N0", CultureInfo.InvariantCulture))} elements), over the limit of {MaxTensorElements:N0}; ONNX Runtime would build it when the model is loaded");
            }
        }
    }

    /// <summary>Checks an attribute's tensors and subgraphs; returns the value of a small int64 tensor attribute.</summary>
    private static long[]? CheckAttribute(ReadOnlySpan<byte> attribute, int nesting, WalkState state)
    {
        long[]? value = null;
        var position = 0;
        while (position < attribute.Length && state.Violation is null)
        {
            if (!TryField(attribute, ref position, out var field, out var wire, out var payload) || wire != 2)
            {
                continue;
            }

            switch (field)
            {
                case AttributeTensor:
                case AttributeTensors:
                    value = CheckTensor(payload, state, null) ?? value;
                    break;
                case AttributeGraph:
                case AttributeGraphs:
                    CheckGraph(payload, nesting + 1, state);
                    break;
            }
        }

        return value;
    }

    /// <summary>Checks a tensor's declared size; returns its values when it is a small int64 tensor (and records it by name).</summary>
    private static long[]? CheckTensor(ReadOnlySpan<byte> tensor, WalkState state, Dictionary<string, long[]>? constants)
    {
        var dims = new List<long>(4);
        var dataType = 0UL;
        string? name = null;
        List<long>? int64Data = null;
        ReadOnlySpan<byte> raw = default;
        var position = 0;
        while (position < tensor.Length)
        {
            if (!TryField(tensor, ref position, out var field, out var wire, out var payload, out var number))
            {
                return null;
            }

            switch (field)
            {
                case TensorDims when wire == 0:
                    dims.Add((long)number);
                    break;
                case TensorDims when wire == 2:
                    ReadPacked(payload, dims);
                    break;
                case TensorDataType when wire == 0:
                    dataType = number;
                    break;
                case TensorInt64Data when wire == 0:
                    (int64Data ??= []).Add((long)number);
                    break;
                case TensorInt64Data when wire == 2:
                    ReadPacked(payload, int64Data ??= []);
                    break;
                case TensorName when wire == 2:
                    name = Encoding.UTF8.GetString(payload);
                    break;
                case TensorRawData when wire == 2:
                    raw = tensor.Slice(position - payload.Length, payload.Length);
                    break;
            }
        }

        var elements = Product([.. dims]);
        if (elements > MaxTensorElements)
        {
            state.Violation = string.Create(CultureInfo.InvariantCulture,
                $"tensor '{name}' declares shape [{string.Join(',', dims)}], over the limit of {MaxTensorElements:N0} elements per tensor");
            return null;
        }

        if (dataType != Int64DataType || elements > 16)
        {
            return null;
        }

        long[] values;
        if (raw.Length == elements * 8)
        {
            values = new long[elements];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(i * 8)..]);
            }
        }
        else if (int64Data is not null && int64Data.Count == elements)
        {
            values = [.. int64Data];
        }
        else
        {
            return null;
        }

        if (name is not null && constants is not null)
        {
            constants[name] = values;
        }

        return values;
    }

    /// <summary>The product of the values, saturating at <see cref="long.MaxValue"/>; negative values count as 0.</summary>
    private static long Product(long[] values)
    {
        long product = 1;
        foreach (var v in values)
        {
            if (v <= 0)
            {
                return 0;
            }

            if (product > long.MaxValue / v)
            {
                return long.MaxValue;
            }

            product *= v;
        }

        return product;
    }

    private static void ReadPacked(ReadOnlySpan<byte> payload, List<long> into)
    {
        var position = 0;
        while (position < payload.Length && OnnxModelInspector.TryReadVarint(payload, ref position, out var value))
        {
            into.Add((long)value);
        }
    }

    private static bool TryField(ReadOnlySpan<byte> data, ref int position, out int field, out int wire, out ReadOnlySpan<byte> payload) =>
        TryField(data, ref position, out field, out wire, out payload, out _);

    /// <summary>Reads one field: a varint's value in <paramref name="number"/>, a length-delimited field's bytes in <paramref name="payload"/>.</summary>
    private static bool TryField(ReadOnlySpan<byte> data, ref int position, out int field, out int wire, out ReadOnlySpan<byte> payload, out ulong number)
    {
        payload = default;
        number = 0;
        field = 0;
        wire = -1;
        if (!OnnxModelInspector.TryReadVarint(data, ref position, out var tag))
        {
            position = data.Length;
            return false;
        }

        field = (int)(tag >> 3);
        wire = (int)(tag & 7);
        switch (wire)
        {
            case 0:
                if (!OnnxModelInspector.TryReadVarint(data, ref position, out number))
                {
                    position = data.Length;
                    return false;
                }

                return true;
            case 1:
                position += 8;
                return position <= data.Length;
            case 5:
                position += 4;
                return position <= data.Length;
            case 2:
                if (!OnnxModelInspector.TryReadVarint(data, ref position, out var length) || length > (ulong)(data.Length - position))
                {
                    position = data.Length;
                    return false;
                }

                payload = data.Slice(position, (int)length);
                position += (int)length;
                return true;
            default:
                position = data.Length;
                return false;
        }
    }

    private sealed class WalkState
    {
        public int Nodes { get; set; }

        public string? Violation { get; set; }
    }
}
