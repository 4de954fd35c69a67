using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Serverless.Onnx;

/// <summary>
/// Reads an ONNX file's protobuf once, streaming, never the whole model into objects, for everything that must
/// be refused before ONNX Runtime opens it: tensors whose data lives in external files (ORT would read such a
/// file relative to the process's working directory, so a dropped model could make the publisher read a file of
/// its own; the platform stores single-file models only) and the bounds of <see cref="OnnxModelBounds"/>.
/// </summary>
/// <remarks>
/// It reads what ONNX Runtime's protobuf parser would build, so that no encoding reaches ORT unchecked: every field
/// not followed is skipped as a parser skips it, groups included, and bytes no parser accepts are reported rather
/// than passed over; a singular message given more than once (a graph split over two <c>ModelProto.graph</c>
/// fields, an attribute's tensor given twice) is read as the one merged message a parser makes
/// (<see cref="MergedMessageReader"/>); sparse tensors are counted at their dense size, as ORT makes them dense at
/// load; a <c>Constant</c> counts in every attribute form (<c>value</c>, <c>value_int(s)</c>, <c>value_float(s)</c>,
/// <c>value_string(s)</c>, <c>sparse_value</c>); model-local functions (<c>ModelProto.functions</c>) and subgraphs
/// are checked as graphs; shapes are followed through the ops that carry them (<see cref="GraphScope"/>), in any node
/// order; and every tensor declared or built at load adds to one total for the model.
/// </remarks>
public static class OnnxModelReader
{
    // Field numbers from onnx.proto3.
    private const int ModelGraph = 7;
    private const int ModelFunctions = 25;
    private const int GraphNode = 1;
    private const int GraphInitializer = 5;
    private const int GraphSparseInitializer = 15;
    private const int FunctionNode = 7;
    private const int FunctionAttributeProto = 11;
    private const int NodeInput = 1;
    private const int NodeOutput = 2;
    private const int NodeOpType = 4;
    private const int NodeAttribute = 5;
    private const int AttributeName = 1;
    private const int AttributeFloat = 2;
    private const int AttributeInt = 3;
    private const int AttributeString = 4;
    private const int AttributeTensor = 5;
    private const int AttributeGraph = 6;
    private const int AttributeFloats = 7;
    private const int AttributeInts = 8;
    private const int AttributeStrings = 9;
    private const int AttributeTensors = 10;
    private const int AttributeGraphs = 11;
    private const int AttributeSparseTensor = 22;
    private const int AttributeSparseTensors = 23;
    private const int SparseValues = 1;
    private const int SparseIndices = 2;
    private const int SparseDims = 3;
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

    /// <summary>Reads the model against the default bounds; see <see cref="OnnxModelFindings"/> for what it reports.</summary>
    public static OnnxModelFindings Read(ReadOnlySpan<byte> model) => Read(model, OnnxModelBounds.MaxTotalTensorBytes);

    /// <summary>Reads the model, its tensors bounded to <paramref name="maxTotalTensorBytes"/> in all.</summary>
    public static OnnxModelFindings Read(ReadOnlySpan<byte> model, long maxTotalTensorBytes)
    {
        var walk = new OnnxModelWalk(maxTotalTensorBytes);
        var reader = new ProtobufReader(model);
        List<Range>? graph = null;
        while (!walk.Done && reader.TryRead(out var field))
        {
            if (!field.IsLengthDelimited)
            {
                continue;
            }

            if (field.Number == ModelGraph)
            {
                // Singular: every occurrence is one graph, merged.
                (graph ??= []).Add(field.Range);
            }
            else if (field.Number == ModelFunctions)
            {
                ReadGraph(model, [field.Range], 1, null, walk, FunctionNode, initializerField: 0, sparseField: 0, FunctionAttributeProto);
            }
        }

        walk.NoteError(reader.Error);
        if (graph is not null && !walk.Done)
        {
            ReadGraph(model, graph, 1, null, walk, GraphNode, GraphInitializer, GraphSparseInitializer, attributeField: 0);
        }

        return new OnnxModelFindings(walk.ExternalData, walk.Unbounded, walk.Malformed);
    }

    /// <summary>Reads a graph (or a function: its nodes under another field number), then folds its constants, then its subgraphs.</summary>
    private static void ReadGraph(ReadOnlySpan<byte> file, List<Range> segments, int nesting, GraphScope? parent, OnnxModelWalk walk, int nodeField, int initializerField, int sparseField, int attributeField)
    {
        if (nesting > OnnxModelBounds.MaxNesting)
        {
            // Not read further: this is the reader's one depth limit, so its recursion stays bounded.
            walk.Unbounded ??= $"graphs nest more than {OnnxModelBounds.MaxNesting} deep (If/Loop/Scan bodies inside each other); this platform refuses such models";
            return;
        }

        var scope = new GraphScope(parent);
        var reader = new MergedMessageReader(file, segments);
        while (!walk.Done && reader.TryRead(out var field))
        {
            if (!field.IsLengthDelimited)
            {
                continue;
            }

            if (field.Number == nodeField)
            {
                if (++walk.Nodes > OnnxModelBounds.MaxNodes)
                {
                    walk.Unbounded ??= string.Create(CultureInfo.InvariantCulture, $"the model has more than {OnnxModelBounds.MaxNodes:N0} nodes; this platform refuses graphs that large");
                }

                ReadNode(file, field, scope, walk);
            }
            else if (field.Number == initializerField)
            {
                if (ReadTensor(file, [field.Range], walk, countTotal: true, out var name) is { } tensor && name is not null)
                {
                    scope.AddConstant(name, tensor);
                }
            }
            else if (field.Number == sparseField)
            {
                if (ReadSparseTensor(file, field, walk, out var name) is { } tensor && name is not null)
                {
                    scope.AddConstant(name, tensor);
                }
            }
            else if (field.Number == attributeField)
            {
                ReadAttribute(file, field, scope, walk);
            }
        }

        walk.NoteError(reader.Error);
        if (walk.Done)
        {
            return;
        }

        scope.Fold(walk);
        foreach (var subgraph in scope.Subgraphs)
        {
            if (walk.Done)
            {
                return;
            }

            ReadGraph(file, subgraph, nesting + 1, scope, walk, GraphNode, GraphInitializer, GraphSparseInitializer, attributeField: 0);
        }
    }

    private static void ReadNode(ReadOnlySpan<byte> file, ProtobufField node, GraphScope scope, OnnxModelWalk walk)
    {
        // Where the node's strings lie, decoded only for the few nodes that need them.
        List<Range>? inputs = null;
        Range? output = null;
        Range opType = default;
        List<AttributeFacts>? attributes = null;
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
                    (inputs ??= []).Add(field.Range);
                    break;
                case NodeOutput:
                    output ??= field.Range;
                    break;
                case NodeOpType:
                    opType = field.Range;
                    break;
                case NodeAttribute:
                    (attributes ??= []).Add(ReadAttribute(file, field, scope, walk));
                    break;
            }
        }

        walk.NoteError(reader.Error);
        if (walk.Done)
        {
            return;
        }

        var op = file[opType];
        string? outputName = output is { } o ? Encoding.UTF8.GetString(file[o]) : null;
        if (op.SequenceEqual("Constant"u8))
        {
            if (outputName is not null && ConstantValue(attributes, outputName, walk) is { } constant)
            {
                scope.AddConstant(outputName, constant);
            }

            return;
        }

        var opName = Encoding.UTF8.GetString(op);
        if (!IsFoldable(opName))
        {
            return;
        }

        var names = new string[inputs?.Count ?? 0];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = Encoding.UTF8.GetString(file[inputs![i]]);
        }

        var valueBytes = 4;
        if (attributes is not null)
        {
            foreach (var attribute in attributes)
            {
                if (attribute is { Name: "value", Tensor: { } value })
                {
                    valueBytes = value.ElementBytes;
                }
            }
        }

        scope.AddFold(new FoldNode(opName, names, outputName, valueBytes));
    }

    private static bool IsFoldable(string op) => op is "Identity" or "Reshape" or "Squeeze" or "Unsqueeze" or "Flatten" or "Concat" or "Mul" or "Add"
        or "ConstantOfShape" or "Expand" or "Tile" or "Range";

    /// <summary>A <c>Constant</c>'s tensor from whichever attribute gives it (tensors were counted as they were read; the list forms are counted here).</summary>
    private static KnownTensor? ConstantValue(List<AttributeFacts>? attributes, string output, OnnxModelWalk walk)
    {
        if (attributes is null)
        {
            return null;
        }

        KnownTensor? value = null;
        foreach (var attribute in attributes)
        {
            KnownTensor? given = attribute.Name switch
            {
                "value" or "sparse_value" => attribute.Tensor,
                "value_int" => new KnownTensor(1, 8, [attribute.Int]),
                "value_ints" => new KnownTensor(attribute.Ints.Count, 8, attribute.Ints.Count <= GraphScope.MaxValueElements ? [.. attribute.Ints] : null),
                "value_float" => new KnownTensor(1, 4, null),
                "value_floats" => new KnownTensor(attribute.Count, 4, null),
                "value_string" => new KnownTensor(1, 8, null),
                "value_strings" => new KnownTensor(attribute.Count, 8, null),
                _ => null,
            };
            if (given is { } tensor)
            {
                if (attribute.Name is not ("value" or "sparse_value"))
                {
                    walk.AddTensorBytes(Saturating.Multiply(tensor.Elements, tensor.ElementBytes), $"Constant '{output}'");
                }

                value = tensor;
            }
        }

        return value;
    }

    /// <summary>
    /// Reads an attribute: its tensors (checked and counted), its subgraphs (queued on <paramref name="scope"/>), and
    /// what a <c>Constant</c> or <c>ConstantOfShape</c> needs of it.
    /// </summary>
    private static AttributeFacts ReadAttribute(ReadOnlySpan<byte> file, ProtobufField attribute, GraphScope scope, OnnxModelWalk walk)
    {
        var facts = new AttributeFacts();
        List<Range>? tensor = null;
        List<Range>? graph = null;
        List<Range>? sparse = null;
        var reader = new ProtobufReader(attribute.Bytes, attribute.Offset);
        while (!walk.Done && reader.TryRead(out var field))
        {
            switch (field.Number)
            {
                case AttributeName when field.IsLengthDelimited:
                    facts.Name = Encoding.UTF8.GetString(field.Bytes);
                    break;
                case AttributeInt when field.IsVarint:
                    facts.Int = (long)field.Value;
                    break;
                case AttributeInts when field.IsVarint:
                    facts.Ints.Add((long)field.Value);
                    break;
                case AttributeInts when field.IsLengthDelimited:
                    ReadPacked(field, facts.Ints, walk);
                    break;
                case AttributeFloats when field.Wire == WireType.Fixed32:
                case AttributeStrings when field.IsLengthDelimited:
                    facts.Count++;
                    break;
                case AttributeFloats when field.IsLengthDelimited:
                    facts.Count += field.Bytes.Length / 4;
                    break;
                case AttributeTensor when field.IsLengthDelimited:
                    (tensor ??= []).Add(field.Range);
                    break;
                case AttributeGraph when field.IsLengthDelimited:
                    (graph ??= []).Add(field.Range);
                    break;
                case AttributeSparseTensor when field.IsLengthDelimited:
                    (sparse ??= []).Add(field.Range);
                    break;
                case AttributeTensors when field.IsLengthDelimited:
                    ReadTensor(file, [field.Range], walk, countTotal: true, out _);
                    break;
                case AttributeGraphs when field.IsLengthDelimited:
                    scope.Subgraphs.Add([field.Range]);
                    break;
                case AttributeSparseTensors when field.IsLengthDelimited:
                    ReadSparseTensor(file, field, walk, out _);
                    break;
                case AttributeFloat or AttributeString:
                    break;
            }
        }

        walk.NoteError(reader.Error);
        if (walk.Done)
        {
            return facts;
        }

        // Singular fields given more than once are one merged message, as a parser reads them.
        if (tensor is not null)
        {
            facts.Tensor = ReadTensor(file, tensor, walk, countTotal: true, out _);
        }

        if (sparse is not null)
        {
            facts.Tensor = ReadSparseTensor(file, sparse, walk, out _) ?? facts.Tensor;
        }

        if (graph is not null)
        {
            scope.Subgraphs.Add(graph);
        }

        return facts;
    }

    private static KnownTensor? ReadSparseTensor(ReadOnlySpan<byte> file, ProtobufField sparse, OnnxModelWalk walk, out string? name) =>
        ReadSparseTensor(file, [sparse.Range], walk, out name);

    /// <summary>
    /// A sparse tensor (an initializer, a <c>Constant</c>'s <c>sparse_value</c>, an attribute): ONNX Runtime makes it
    /// dense when it loads the model, so a few bytes of values can declare billions of elements; it is checked and
    /// counted at its dense size. A small int64 one is made dense here too, as it may be a shape.
    /// </summary>
    private static KnownTensor? ReadSparseTensor(ReadOnlySpan<byte> file, List<Range> segments, OnnxModelWalk walk, out string? name)
    {
        name = null;
        List<Range>? values = null;
        List<Range>? indices = null;
        var dims = new List<long>(4);
        var reader = new MergedMessageReader(file, segments);
        while (!walk.Done && reader.TryRead(out var field))
        {
            switch (field.Number)
            {
                case SparseValues when field.IsLengthDelimited:
                    (values ??= []).Add(field.Range);
                    break;
                case SparseIndices when field.IsLengthDelimited:
                    (indices ??= []).Add(field.Range);
                    break;
                case SparseDims when field.IsVarint:
                    dims.Add((long)field.Value);
                    break;
                case SparseDims when field.IsLengthDelimited:
                    ReadPacked(field, dims, walk);
                    break;
            }
        }

        walk.NoteError(reader.Error);
        KnownTensor? valueTensor = values is null ? null : ReadTensor(file, values, walk, countTotal: false, out name);
        KnownTensor? indexTensor = indices is null ? null : ReadTensor(file, indices, walk, countTotal: false, out _);
        if (walk.Done)
        {
            return null;
        }

        var elements = Saturating.Product(CollectionsMarshal.AsSpan(dims));
        var what = $"sparse tensor '{name}'";
        if (elements > OnnxModelBounds.MaxTensorElements)
        {
            walk.Unbounded ??= string.Create(CultureInfo.InvariantCulture,
                $"{what} declares shape [{string.Join(',', dims)}] ({(elements == long.MaxValue ? "more than 9.2e18" : elements.ToString("N0", CultureInfo.InvariantCulture))} elements), over the limit of {OnnxModelBounds.MaxTensorElements:N0} elements per tensor; ONNX Runtime makes sparse tensors dense when it loads the model");
            return null;
        }

        var elementBytes = valueTensor?.ElementBytes ?? 4;
        walk.AddTensorBytes(Saturating.Multiply(elements, elementBytes), what);
        return new KnownTensor(elements, elementBytes, Densify(elements, valueTensor, indexTensor));
    }

    /// <summary>The dense values of a small int64 sparse tensor with linear (or rank-1) indices; null otherwise.</summary>
    private static long[]? Densify(long elements, KnownTensor? values, KnownTensor? indices)
    {
        if (elements > GraphScope.MaxValueElements || values?.Values is not { } given || indices?.Values is not { } at || at.Length != given.Length)
        {
            return null;
        }

        var dense = new long[elements];
        for (var i = 0; i < given.Length; i++)
        {
            if (at[i] < 0 || at[i] >= elements)
            {
                return null;
            }

            dense[at[i]] = given[i];
        }

        return dense;
    }

    /// <summary>
    /// Checks a tensor (one message, or one merged from several occurrences) for external data and its declared
    /// size against the per-tensor bound, counts it in the model's total (<paramref name="countTotal"/>), and returns
    /// its size and, for a small int64 tensor, its values; null when it is refused or unreadable.
    /// </summary>
    private static KnownTensor? ReadTensor(ReadOnlySpan<byte> file, List<Range> segments, OnnxModelWalk walk, bool countTotal, out string? name)
    {
        name = null;
        var dims = walk.Dims;
        dims.Clear();
        var int64Data = walk.Int64Data;
        int64Data.Clear();
        var dataType = 0UL;
        Range? nameAt = null;
        Range raw = default;
        var external = false;
        string? location = null;
        var reader = new MergedMessageReader(file, segments);
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
                    nameAt = field.Range;
                    break;
                case TensorRawData when field.IsLengthDelimited:
                    raw = field.Range;
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

        name = nameAt is { } n ? Encoding.UTF8.GetString(file[n]) : null;
        if (external)
        {
            walk.ExternalData = $"tensor '{name}' keeps its data in an external file ('{location}'); only single-file models are served: save the model with its weights inside the .onnx file";
            return null;
        }

        var elements = Saturating.Product(CollectionsMarshal.AsSpan(dims));
        if (elements > OnnxModelBounds.MaxTensorElements)
        {
            walk.Unbounded ??= string.Create(CultureInfo.InvariantCulture,
                $"tensor '{name}' declares shape [{string.Join(',', dims)}], over the limit of {OnnxModelBounds.MaxTensorElements:N0} elements per tensor");
            return null;
        }

        var elementBytes = ElementBytes(dataType);
        if (countTotal)
        {
            walk.AddTensorBytes(Saturating.Multiply(elements, elementBytes), $"tensor '{name}'");
        }

        long[]? values = null;
        var rawBytes = file[raw];
        if (dataType == Int64DataType && elements <= GraphScope.MaxValueElements)
        {
            if (rawBytes.Length == elements * 8)
            {
                values = new long[elements];
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = BinaryPrimitives.ReadInt64LittleEndian(rawBytes[(i * 8)..]);
                }
            }
            else if (int64Data.Count == elements)
            {
                values = [.. int64Data];
            }
        }

        return new KnownTensor(elements, elementBytes, values);
    }

    /// <summary>Bytes per element of a <c>TensorProto.DataType</c> once loaded (strings counted as 8; unknown types as 4).</summary>
    private static int ElementBytes(ulong dataType) => dataType switch
    {
        2 or 3 or 9 or (>= 17 and <= 23) => 1,
        4 or 5 or 10 or 16 => 2,
        7 or 8 or 11 or 13 or 14 => 8,
        15 => 16,
        _ => 4,
    };

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
}
