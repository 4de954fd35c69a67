using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Serverless.Onnx;

namespace Serverless.ModelBuilder;

/// <summary>
/// Builds ONNX model files in memory by writing the protobuf wire format directly, so tests and
/// tools can make models without Python or generated protobuf code.
/// </summary>
/// <remarks>
/// Each part is encoded as soon as it is added, so argument errors surface at the call that made them.
/// Field numbers are those of <c>onnx.proto3</c>.
/// </remarks>
public sealed class OnnxModelBuilder
{
    // ModelProto
    private const int ModelIrVersion = 1;
    private const int ModelProducerName = 2;
    private const int ModelProducerVersion = 3;
    private const int ModelGraph = 7;
    private const int ModelOpsetImport = 8;

    // OperatorSetIdProto
    private const int OpsetDomain = 1;
    private const int OpsetVersion = 2;

    // GraphProto
    private const int GraphNode = 1;
    private const int GraphName = 2;
    private const int GraphInitializer = 5;
    private const int GraphInput = 11;
    private const int GraphOutput = 12;

    // NodeProto
    private const int NodeInput = 1;
    private const int NodeOutput = 2;
    private const int NodeName = 3;
    private const int NodeOpType = 4;
    private const int NodeAttribute = 5;
    private const int NodeDomain = 7;

    // ValueInfoProto, TypeProto, TypeProto.Tensor, TensorShapeProto, TensorShapeProto.Dimension
    private const int ValueInfoName = 1;
    private const int ValueInfoType = 2;
    private const int TypeTensorType = 1;
    private const int TensorTypeElemType = 1;
    private const int TensorTypeShape = 2;
    private const int ShapeDim = 1;
    private const int DimValue = 1;
    private const int DimParam = 2;

    // TensorProto
    private const int TensorDims = 1;
    private const int TensorDataType = 2;
    private const int TensorStringData = 6;
    private const int TensorName = 8;
    private const int TensorRawData = 9;
    private const int TensorExternalData = 13;
    private const int TensorDataLocation = 14;

    // TypeProto.sequence_type / map_type, TypeProto.Sequence, TypeProto.Map, StringStringEntryProto
    private const int TypeSequenceType = 4;
    private const int TypeMapType = 5;
    private const int SequenceElemType = 1;
    private const int MapKeyType = 1;
    private const int MapValueType = 2;
    private const int EntryKey = 1;
    private const int EntryValue = 2;
    private const int DataLocationExternal = 1;

    private const string ProducerName = "Serverless.Core.OnnxModelBuilder";
    private const string ProducerVersion = "1";

    private readonly string _graphName;
    private readonly long _irVersion;
    private readonly List<KeyValuePair<string, long>> _opsets = [];
    private readonly List<byte[]> _inputs = [];
    private readonly List<byte[]> _outputs = [];
    private readonly List<byte[]> _initializers = [];
    private readonly List<byte[]> _nodes = [];

    /// <summary>Starts a model whose default (<c>ai.onnx</c>) opset is <paramref name="opset"/>.</summary>
    public OnnxModelBuilder(string graphName = "graph", long opset = 17, long irVersion = 8)
    {
        ArgumentException.ThrowIfNullOrEmpty(graphName);
        ArgumentOutOfRangeException.ThrowIfLessThan(opset, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(irVersion, 3); // opset_import exists from IR 3 on
        _graphName = graphName;
        _irVersion = irVersion;
        _opsets.Add(new(string.Empty, opset));
    }

    /// <summary>
    /// Adds a graph input. Each dimension is an <see cref="int"/> or <see cref="long"/> (fixed) or a
    /// <see cref="string"/> (symbolic, e.g. <c>"batch"</c>); no dimensions means a scalar.
    /// </summary>
    public OnnxModelBuilder AddInput(string name, OnnxElementType type, params object[] dims)
    {
        _inputs.Add(EncodeValueInfo(name, type, dims));
        return this;
    }

    /// <summary>Adds a graph output; dimensions as for <see cref="AddInput"/>.</summary>
    public OnnxModelBuilder AddOutput(string name, OnnxElementType type, params object[] dims)
    {
        _outputs.Add(EncodeValueInfo(name, type, dims));
        return this;
    }

    /// <summary>
    /// Adds a graph output that is a sequence of maps, as scikit-learn classifiers converted with a
    /// <c>ZipMap</c> produce (e.g. <c>seq(map(int64, float))</c>).
    /// </summary>
    public OnnxModelBuilder AddSequenceOfMapsOutput(string name, OnnxElementType keyType, OnnxElementType valueType)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var writer = new ProtobufWriter();
        writer.WriteString(ValueInfoName, name);
        writer.WriteMessage(ValueInfoType, type => type.WriteMessage(TypeSequenceType, sequence =>
            sequence.WriteMessage(SequenceElemType, element => element.WriteMessage(TypeMapType, map =>
            {
                map.WriteInt32(MapKeyType, (int)keyType);
                map.WriteMessage(MapValueType, value => value.WriteMessage(TypeTensorType, tensor => tensor.WriteInt32(TensorTypeElemType, (int)valueType)));
            }))));
        _outputs.Add(writer.ToArray());
        return this;
    }

    /// <summary>
    /// Adds an initializer whose data lives in an external file beside the model (ONNX external data),
    /// as large exported models do; used to test that such models are refused with a clear reason.
    /// </summary>
    public OnnxModelBuilder AddExternalInitializer(string name, OnnxElementType type, long[] dims, string location)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dims);
        var writer = new ProtobufWriter();
        WriteDims(writer, dims);
        writer.WriteInt32(TensorDataType, (int)type);
        writer.WriteString(TensorName, name);
        writer.WriteMessage(TensorExternalData, entry =>
        {
            entry.WriteString(EntryKey, "location");
            entry.WriteString(EntryValue, location);
        });
        writer.WriteInt32(TensorDataLocation, DataLocationExternal);
        _initializers.Add(writer.ToArray());
        return this;
    }

    /// <summary>
    /// Adds a constant tensor from little-endian, row-major element bytes; the length must match the
    /// shape. Use <see cref="AddStringInitializer"/> for strings.
    /// </summary>
    public OnnxModelBuilder AddInitializer(string name, OnnxElementType type, long[] dims, ReadOnlySpan<byte> rawData)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dims);
        if (type == OnnxElementType.String)
        {
            throw new ArgumentException("String tensors cannot use raw_data; use AddStringInitializer.", nameof(type));
        }

        int elementSize = ElementSize(type);
        long count = ElementCount(dims);
        if (rawData.Length != count * elementSize)
        {
            throw new ArgumentException(
                $"Initializer '{name}': {rawData.Length} bytes do not fit shape [{string.Join(", ", dims)}] of {type} ({count * elementSize} bytes expected).",
                nameof(rawData));
        }

        var writer = new ProtobufWriter();
        WriteDims(writer, dims);
        writer.WriteInt32(TensorDataType, (int)type);
        writer.WriteString(TensorName, name);
        writer.WriteBytes(TensorRawData, rawData);
        _initializers.Add(writer.ToArray());
        return this;
    }

    /// <summary>
    /// Adds a tensor whose raw data need not fit its shape: a malformed file on purpose, for tests of what
    /// the platform refuses (a shape declaring far more than the bytes hold).
    /// </summary>
    public OnnxModelBuilder AddMalformedInitializer(string name, OnnxElementType type, long[] dims, ReadOnlySpan<byte> rawData)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dims);
        var writer = new ProtobufWriter();
        WriteDims(writer, dims);
        writer.WriteInt32(TensorDataType, (int)type);
        writer.WriteString(TensorName, name);
        writer.WriteBytes(TensorRawData, rawData);
        _initializers.Add(writer.ToArray());
        return this;
    }

    /// <summary>Adds a FLOAT constant tensor; no dimensions means a scalar.</summary>
    public OnnxModelBuilder AddInitializer(string name, float[] data, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(data);
        var raw = new byte[data.Length * sizeof(float)];
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * sizeof(float)), data[i]);
        }

        return AddInitializer(name, OnnxElementType.Float, dims, raw);
    }

    /// <summary>Adds a DOUBLE constant tensor; no dimensions means a scalar.</summary>
    public OnnxModelBuilder AddInitializer(string name, double[] data, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(data);
        var raw = new byte[data.Length * sizeof(double)];
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(raw.AsSpan(i * sizeof(double)), data[i]);
        }

        return AddInitializer(name, OnnxElementType.Double, dims, raw);
    }

    /// <summary>Adds an INT64 constant tensor; no dimensions means a scalar.</summary>
    public OnnxModelBuilder AddInitializer(string name, long[] data, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(data);
        var raw = new byte[data.Length * sizeof(long)];
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * sizeof(long)), data[i]);
        }

        return AddInitializer(name, OnnxElementType.Int64, dims, raw);
    }

    /// <summary>Adds an INT32 constant tensor; no dimensions means a scalar.</summary>
    public OnnxModelBuilder AddInitializer(string name, int[] data, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(data);
        var raw = new byte[data.Length * sizeof(int)];
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(i * sizeof(int)), data[i]);
        }

        return AddInitializer(name, OnnxElementType.Int32, dims, raw);
    }

    /// <summary>Adds a STRING constant tensor (ONNX stores strings in <c>string_data</c>, never raw).</summary>
    public OnnxModelBuilder AddStringInitializer(string name, string[] data, params long[] dims)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(dims);
        long count = ElementCount(dims);
        if (data.Length != count)
        {
            throw new ArgumentException(
                $"Initializer '{name}': {data.Length} strings do not fit shape [{string.Join(", ", dims)}] ({count} expected).",
                nameof(data));
        }

        var writer = new ProtobufWriter();
        WriteDims(writer, dims);
        writer.WriteInt32(TensorDataType, (int)OnnxElementType.String);
        foreach (string value in data)
        {
            ArgumentNullException.ThrowIfNull(value, nameof(data));
            writer.WriteBytes(TensorStringData, Encoding.UTF8.GetBytes(value));
        }

        writer.WriteString(TensorName, name);
        _initializers.Add(writer.ToArray());
        return this;
    }

    /// <summary>
    /// Adds a node. Nodes must be added in topological order. An empty input name marks an omitted
    /// optional input; <paramref name="domain"/> null means the default ONNX domain.
    /// </summary>
    public OnnxModelBuilder AddNode(string opType, string[] inputs, string[] outputs, string? domain = null, params OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(attributes);

        var writer = new ProtobufWriter();
        foreach (string input in inputs)
        {
            ArgumentNullException.ThrowIfNull(input, nameof(inputs));
            writer.WriteString(NodeInput, input);
        }

        foreach (string output in outputs)
        {
            ArgumentException.ThrowIfNullOrEmpty(output, nameof(outputs));
            writer.WriteString(NodeOutput, output);
        }

        // Unique node names make ONNX Runtime's error messages point at the node.
        writer.WriteString(NodeName, $"{opType}_{_nodes.Count}");
        writer.WriteString(NodeOpType, opType);
        foreach (OnnxAttribute attribute in attributes)
        {
            ArgumentNullException.ThrowIfNull(attribute, nameof(attributes));
            writer.WriteMessage(NodeAttribute, attribute.WriteTo);
        }

        if (!string.IsNullOrEmpty(domain))
        {
            writer.WriteString(NodeDomain, domain);
        }

        _nodes.Add(writer.ToArray());
        return this;
    }

    /// <summary>Imports another operator set (e.g. <c>ai.onnx.ml</c>), or changes the version of one already imported.</summary>
    public OnnxModelBuilder AddOpset(string domain, long version)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        int existing = _opsets.FindIndex(o => o.Key == domain);
        if (existing >= 0)
        {
            _opsets[existing] = new(domain, version);
        }
        else
        {
            _opsets.Add(new(domain, version));
        }

        return this;
    }

    /// <summary>Serializes the model (<c>ModelProto</c>); the builder can keep being used afterwards.</summary>
    public byte[] ToBytes()
    {
        var model = new ProtobufWriter();
        model.WriteInt64(ModelIrVersion, _irVersion);
        model.WriteString(ModelProducerName, ProducerName);
        model.WriteString(ModelProducerVersion, ProducerVersion);
        model.WriteMessage(ModelGraph, WriteGraph);
        foreach (KeyValuePair<string, long> opset in _opsets)
        {
            model.WriteMessage(ModelOpsetImport, w =>
            {
                if (opset.Key.Length > 0)
                {
                    w.WriteString(OpsetDomain, opset.Key);
                }

                w.WriteInt64(OpsetVersion, opset.Value);
            });
        }

        return model.ToArray();
    }

    private void WriteGraph(ProtobufWriter graph)
    {
        foreach (byte[] node in _nodes)
        {
            graph.WriteBytes(GraphNode, node);
        }

        graph.WriteString(GraphName, _graphName);
        foreach (byte[] initializer in _initializers)
        {
            graph.WriteBytes(GraphInitializer, initializer);
        }

        foreach (byte[] input in _inputs)
        {
            graph.WriteBytes(GraphInput, input);
        }

        foreach (byte[] output in _outputs)
        {
            graph.WriteBytes(GraphOutput, output);
        }
    }

    private static byte[] EncodeValueInfo(string name, OnnxElementType type, object[] dims)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dims);
        ElementSize(type); // validates the element type

        // Validate every dimension before encoding, so a bad one names the value it belongs to.
        foreach (object? dim in dims)
        {
            switch (dim)
            {
                case int or long:
                    if (Convert.ToInt64(dim, CultureInfo.InvariantCulture) < 0)
                    {
                        throw new ArgumentException($"Value '{name}': dimension {dim} is negative.", nameof(dims));
                    }

                    break;
                case string param:
                    if (param.Length == 0)
                    {
                        throw new ArgumentException($"Value '{name}': a symbolic dimension needs a name.", nameof(dims));
                    }

                    break;
                default:
                    throw new ArgumentException(
                        $"Value '{name}': dimension '{dim ?? "null"}' must be an int, a long or a string.", nameof(dims));
            }
        }

        var writer = new ProtobufWriter();
        writer.WriteString(ValueInfoName, name);
        writer.WriteMessage(ValueInfoType, typeProto => typeProto.WriteMessage(TypeTensorType, tensorType =>
        {
            tensorType.WriteInt32(TensorTypeElemType, (int)type);

            // The shape is always written: an empty one says "scalar", while no shape would say "unknown rank".
            tensorType.WriteMessage(TensorTypeShape, shape =>
            {
                foreach (object dim in dims)
                {
                    shape.WriteMessage(ShapeDim, d =>
                    {
                        switch (dim)
                        {
                            case string param:
                                d.WriteString(DimParam, param);
                                break;
                            case int value:
                                d.WriteInt64(DimValue, value);
                                break;
                            case long value:
                                d.WriteInt64(DimValue, value);
                                break;
                        }
                    });
                }
            });
        }));
        return writer.ToArray();
    }

    private static void WriteDims(ProtobufWriter writer, long[] dims)
    {
        // Unpacked, as the proto2 schema ONNX Runtime compiles declares it; parsers accept both.
        foreach (long dim in dims)
        {
            writer.WriteInt64(TensorDims, dim);
        }
    }

    private static long ElementCount(long[] dims)
    {
        long count = 1;
        foreach (long dim in dims)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(dim, nameof(dims));
            count = checked(count * dim);
        }

        return count;
    }

    private static int ElementSize(OnnxElementType type) => type switch
    {
        OnnxElementType.UInt8 or OnnxElementType.Int8 or OnnxElementType.Bool => 1,
        OnnxElementType.UInt16 or OnnxElementType.Int16 or OnnxElementType.Float16 => 2,
        OnnxElementType.Float or OnnxElementType.Int32 or OnnxElementType.UInt32 => 4,
        OnnxElementType.Int64 or OnnxElementType.Double or OnnxElementType.UInt64 => 8,

        // Strings have no fixed size; callers that need raw bytes reject them themselves.
        OnnxElementType.String => 0,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown ONNX element type."),
    };
}
