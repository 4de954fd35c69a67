using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Serverless.Onnx;

/// <summary>
/// Reads an ONNX file's protobuf once, streaming, never the whole model into objects, for everything that must
/// be refused before ONNX Runtime opens it: tensors whose data lives in external files (ORT would read such a
/// file relative to the process's working directory, so a dropped model could make the publisher read a file of
/// its own; the platform stores single-file models only) and the bounds of <see cref="OnnxModelBounds"/>. It
/// follows only the fields that lead to graphs, nodes and tensors and skips every other field, groups included,
/// as a protobuf parser would; bytes no parser would accept are reported rather than passed over.
/// </summary>
public static class OnnxModelReader
{
    // Field numbers from onnx.proto3.
    private const int ModelGraph = 7;
    private const int GraphNode = 1;
    private const int GraphInitializer = 5;
    private const int GraphSparseInitializer = 15;
    private const int NodeInput = 1;
    private const int NodeOutput = 2;
    private const int NodeOpType = 4;
    private const int NodeAttribute = 5;
    private const int AttributeTensor = 5;
    private const int AttributeGraph = 6;
    private const int AttributeTensors = 10;
    private const int AttributeGraphs = 11;
    private const int AttributeSparseTensor = 22;
    private const int AttributeSparseTensors = 23;
    private const int SparseValues = 1;
    private const int SparseIndices = 2;
    private const int TensorDims = 1;
    private const int TensorDataType = 2;
    private const int TensorInt64Data = 7;
    private const int TensorName = 8;
    private const int TensorRawData = 9;
    private const int TensorExternalData = 13;
    private const int TensorDataLocation = 14;
    private const int EntryKey = 1;
    private const int EntryValue = 2;
    private const ulong Int64DataType = 7;
    private const ulong DataLocationExternal = 1;

    /// <summary>Int64 tensors up to this many elements are kept by name as possible shapes.</summary>
    private const long MaxShapeElements = 16;

    /// <summary>Reads the model; see <see cref="OnnxModelFindings"/> for what it reports.</summary>
    public static OnnxModelFindings Read(ReadOnlySpan<byte> model)
    {
        var walk = new OnnxModelWalk();
        var reader = new ProtobufReader(model);
        while (!walk.Done && reader.TryRead(out var field))
        {
            if (field.Number == ModelGraph && field.IsLengthDelimited)
            {
                ReadGraph(field, 1, walk);
            }
        }

        walk.NoteError(reader.Error);
        return new OnnxModelFindings(walk.ExternalData, walk.Unbounded, walk.Malformed);
    }

    private static void ReadGraph(ProtobufField graph, int nesting, OnnxModelWalk walk)
    {
        if (nesting > OnnxModelBounds.MaxNesting)
        {
            // Not read further: this is the reader's one depth limit, so its recursion stays bounded.
            walk.Unbounded ??= $"graphs nest more than {OnnxModelBounds.MaxNesting} deep (If/Loop/Scan bodies inside each other); this platform refuses such models";
            return;
        }

        // Small int64 constants of this graph by name (shape tensors), and the nodes that take a shape from one.
        Dictionary<string, long[]>? constants = null;
        List<ConstantShapeUse>? uses = null;
        var reader = new ProtobufReader(graph.Bytes, graph.Offset);
        while (!walk.Done && reader.TryRead(out var field))
        {
            if (!field.IsLengthDelimited)
            {
                continue;
            }

            switch (field.Number)
            {
                case GraphNode:
                    if (++walk.Nodes > OnnxModelBounds.MaxNodes)
                    {
                        walk.Unbounded ??= string.Create(CultureInfo.InvariantCulture, $"the model has more than {OnnxModelBounds.MaxNodes:N0} nodes; this platform refuses graphs that large");
                    }

                    ReadNode(field, nesting, walk, ref constants, ref uses);
                    break;
                case GraphInitializer:
                    if (ReadTensor(field, walk, checkBounds: true, out var name) is { } values && name is not null)
                    {
                        (constants ??= new(StringComparer.Ordinal))[name] = values;
                    }

                    break;
                case GraphSparseInitializer:
                    ReadSparseTensor(field, walk);
                    break;
            }
        }

        walk.NoteError(reader.Error);
        if (walk.Done || uses is null || constants is null)
        {
            return;
        }

        foreach (var use in uses)
        {
            if (!constants.TryGetValue(use.Shape, out var shape))
            {
                continue;
            }

            var elements = Product(shape);
            if (elements > OnnxModelBounds.MaxTensorElements)
            {
                walk.Unbounded ??= string.Create(CultureInfo.InvariantCulture,
                    $"node {use.OpType} ('{use.Output}') would build a tensor of shape [{string.Join(',', shape)}] ({(elements == long.MaxValue ? "more than 9.2e18" : elements.ToString("N0", CultureInfo.InvariantCulture))} elements), over the limit of {OnnxModelBounds.MaxTensorElements:N0}; ONNX Runtime would build it when the model is loaded");
                return;
            }
        }
    }

    private static void ReadNode(ProtobufField node, int nesting, OnnxModelWalk walk, ref Dictionary<string, long[]>? constants, ref List<ConstantShapeUse>? uses)
    {
        // Slices of the node's bytes, decoded only for the few nodes that need them.
        ReadOnlySpan<byte> opType = default;
        ReadOnlySpan<byte> input0 = default;
        ReadOnlySpan<byte> input1 = default;
        ReadOnlySpan<byte> output = default;
        var inputs = 0;
        var hasOutput = false;
        long[]? valueTensor = null;
        var reader = new ProtobufReader(node.Bytes, node.Offset);
        while (!walk.Done && reader.TryRead(out var field))
        {
            if (!field.IsLengthDelimited)
            {
                continue;
            }

            switch (field.Number)
            {
                case NodeInput:
                    if (inputs == 0)
                    {
                        input0 = field.Bytes;
                    }
                    else if (inputs == 1)
                    {
                        input1 = field.Bytes;
                    }

                    inputs++;
                    break;
                case NodeOutput when !hasOutput:
                    output = field.Bytes;
                    hasOutput = true;
                    break;
                case NodeOpType:
                    opType = field.Bytes;
                    break;
                case NodeAttribute:
                    valueTensor = ReadAttribute(field, nesting, walk) ?? valueTensor;
                    break;
            }
        }

        walk.NoteError(reader.Error);
        if (walk.Done)
        {
            return;
        }

        // A Constant node holding a small int64 tensor is a shape constant like an initializer.
        if (hasOutput && valueTensor is not null && opType.SequenceEqual("Constant"u8))
        {
            (constants ??= new(StringComparer.Ordinal))[Encoding.UTF8.GetString(output)] = valueTensor;
            return;
        }

        ReadOnlySpan<byte> shape;
        if (inputs > 0 && opType.SequenceEqual("ConstantOfShape"u8))
        {
            shape = input0;
        }
        else if (inputs > 1 && opType.SequenceEqual("Expand"u8))
        {
            shape = input1;
        }
        else
        {
            return;
        }

        (uses ??= []).Add(new ConstantShapeUse(Encoding.UTF8.GetString(opType), Encoding.UTF8.GetString(shape), hasOutput ? Encoding.UTF8.GetString(output) : null));
    }

    /// <summary>Reads an attribute's tensors and subgraphs; returns the value of a small int64 tensor attribute.</summary>
    private static long[]? ReadAttribute(ProtobufField attribute, int nesting, OnnxModelWalk walk)
    {
        long[]? value = null;
        var reader = new ProtobufReader(attribute.Bytes, attribute.Offset);
        while (!walk.Done && reader.TryRead(out var field))
        {
            if (!field.IsLengthDelimited)
            {
                continue;
            }

            switch (field.Number)
            {
                case AttributeTensor:
                case AttributeTensors:
                    value = ReadTensor(field, walk, checkBounds: true, out _) ?? value;
                    break;
                case AttributeGraph:
                case AttributeGraphs:
                    ReadGraph(field, nesting + 1, walk);
                    break;
                case AttributeSparseTensor:
                case AttributeSparseTensors:
                    ReadSparseTensor(field, walk);
                    break;
            }
        }

        walk.NoteError(reader.Error);
        return value;
    }

    /// <summary>A sparse tensor's values and indices are checked for external data only, as before the readers merged.</summary>
    private static void ReadSparseTensor(ProtobufField sparse, OnnxModelWalk walk)
    {
        var reader = new ProtobufReader(sparse.Bytes, sparse.Offset);
        while (!walk.Done && reader.TryRead(out var field))
        {
            if (field.IsLengthDelimited && field.Number is SparseValues or SparseIndices)
            {
                ReadTensor(field, walk, checkBounds: false, out _);
            }
        }

        walk.NoteError(reader.Error);
    }

    /// <summary>
    /// Checks a tensor for external data and (with <paramref name="checkBounds"/>) its declared size; returns its
    /// values when it is a small int64 tensor, a possible shape.
    /// </summary>
    private static long[]? ReadTensor(ProtobufField tensor, OnnxModelWalk walk, bool checkBounds, out string? name)
    {
        name = null;
        var dims = walk.Dims;
        dims.Clear();
        var int64Data = walk.Int64Data;
        int64Data.Clear();
        var dataType = 0UL;
        ReadOnlySpan<byte> nameBytes = default;
        var hasName = false;
        ReadOnlySpan<byte> raw = default;
        var external = false;
        string? location = null;
        var reader = new ProtobufReader(tensor.Bytes, tensor.Offset);
        while (reader.TryRead(out var field))
        {
            switch (field.Number)
            {
                case TensorDims when field.IsVarint:
                    dims.Add((long)field.Value);
                    break;
                case TensorDims when field.IsLengthDelimited:
                    ReadPacked(field, dims, walk);
                    break;
                case TensorDataType when field.IsVarint:
                    dataType = field.Value;
                    break;
                case TensorInt64Data when field.IsVarint:
                    int64Data.Add((long)field.Value);
                    break;
                case TensorInt64Data when field.IsLengthDelimited:
                    ReadPacked(field, int64Data, walk);
                    break;
                case TensorName when field.IsLengthDelimited:
                    nameBytes = field.Bytes;
                    hasName = true;
                    break;
                case TensorRawData when field.IsLengthDelimited:
                    raw = field.Bytes;
                    break;
                case TensorExternalData when field.IsLengthDelimited:
                    external = true;
                    location ??= ReadLocation(field);
                    break;
                case TensorDataLocation when field.IsVarint:
                    external |= field.Value == DataLocationExternal;
                    break;
            }
        }

        walk.NoteError(reader.Error);
        if (walk.Malformed is not null)
        {
            return null;
        }

        name = hasName ? Encoding.UTF8.GetString(nameBytes) : null;
        if (external)
        {
            walk.ExternalData = $"tensor '{name}' keeps its data in an external file ('{location}'); only single-file models are served: save the model with its weights inside the .onnx file";
            return null;
        }

        if (!checkBounds)
        {
            return null;
        }

        var elements = Product(CollectionsMarshal.AsSpan(dims));
        if (elements > OnnxModelBounds.MaxTensorElements)
        {
            walk.Unbounded ??= string.Create(CultureInfo.InvariantCulture,
                $"tensor '{name}' declares shape [{string.Join(',', dims)}], over the limit of {OnnxModelBounds.MaxTensorElements:N0} elements per tensor");
            return null;
        }

        if (dataType != Int64DataType || elements > MaxShapeElements)
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
        else if (int64Data.Count == elements)
        {
            values = [.. int64Data];
        }
        else
        {
            return null;
        }

        return values;
    }

    private static void ReadPacked(ProtobufField field, List<long> into, OnnxModelWalk walk)
    {
        if (!ProtobufReader.TryReadPackedVarints(field.Bytes, into))
        {
            walk.NoteError(string.Create(CultureInfo.InvariantCulture, $"the protobuf is malformed at byte {field.Offset}: the packed varints of field {field.Number} are cut off"));
        }
    }

    /// <summary>The value of an external_data entry whose key is "location"; null for other keys or malformed entries.</summary>
    private static string? ReadLocation(ProtobufField entry)
    {
        string? key = null;
        string? value = null;
        var reader = new ProtobufReader(entry.Bytes, entry.Offset);
        while (reader.TryRead(out var field))
        {
            if (!field.IsLengthDelimited)
            {
                return null;
            }

            if (field.Number == EntryKey)
            {
                key = Encoding.UTF8.GetString(field.Bytes);
            }
            else if (field.Number == EntryValue)
            {
                value = Encoding.UTF8.GetString(field.Bytes);
            }
        }

        return reader.Error is null && key == "location" ? value : null;
    }

    /// <summary>The product of the values, saturating at <see cref="long.MaxValue"/>; a value of 0 or less makes it 0.</summary>
    private static long Product(ReadOnlySpan<long> values)
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
}
