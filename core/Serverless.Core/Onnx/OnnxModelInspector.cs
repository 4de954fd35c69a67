namespace Serverless.Core.Onnx;

/// <summary>
/// Reads just enough of an ONNX file's protobuf to find what must be refused before ONNX Runtime opens
/// it. Today: tensors whose data lives in external files. ONNX Runtime would read such a file relative
/// to the process's working directory, so a dropped model could make the publisher read a file of its
/// own; the platform stores single-file models only, so these are refused with the tensor named.
/// </summary>
public static class OnnxModelInspector
{
    private const int MaxDepth = 64;

    // Field numbers from onnx.proto3.
    private const int ModelGraph = 7;
    private const int GraphNode = 1;
    private const int GraphInitializer = 5;
    private const int GraphSparseInitializer = 15;
    private const int NodeAttribute = 5;
    private const int AttributeTensor = 5;
    private const int AttributeGraph = 6;
    private const int AttributeTensors = 10;
    private const int AttributeGraphs = 11;
    private const int AttributeSparseTensor = 22;
    private const int AttributeSparseTensors = 23;
    private const int SparseValues = 1;
    private const int SparseIndices = 2;
    private const int TensorName = 8;
    private const int TensorExternalData = 13;
    private const int TensorDataLocation = 14;
    private const int EntryKey = 1;
    private const int EntryValue = 2;

    /// <summary>
    /// Null when no tensor of the model uses external data (or the bytes are not a readable protobuf,
    /// which ONNX Runtime then rejects with its own reason); else a message naming the first one.
    /// </summary>
    public static string? FindExternalData(ReadOnlySpan<byte> model)
    {
        string? found = null;
        return Walk(model, Message.Model, 0, ref found) ? found : null;
    }

    private enum Message
    {
        Model,
        Graph,
        Node,
        Attribute,
        Sparse,
        Tensor,
    }

    /// <summary>Walks one message; false when the bytes are not well-formed protobuf.</summary>
    private static bool Walk(ReadOnlySpan<byte> data, Message kind, int depth, ref string? found)
    {
        if (depth > MaxDepth)
        {
            return false;
        }

        string? tensorName = null;
        string? location = null;
        var external = false;
        var position = 0;
        while (position < data.Length && found is null)
        {
            if (!TryReadVarint(data, ref position, out var tag))
            {
                return false;
            }

            var field = (int)(tag >> 3);
            switch ((int)(tag & 7))
            {
                case 0:
                    if (!TryReadVarint(data, ref position, out var number))
                    {
                        return false;
                    }

                    external |= kind == Message.Tensor && field == TensorDataLocation && number == 1;
                    break;
                case 1:
                    position += 8;
                    break;
                case 5:
                    position += 4;
                    break;
                case 2:
                    if (!TryReadVarint(data, ref position, out var length) || length > (ulong)(data.Length - position))
                    {
                        return false;
                    }

                    var child = data.Slice(position, (int)length);
                    position += (int)length;
                    var next = Child(kind, field);
                    if (next is { } nested && !Walk(child, nested, depth + 1, ref found))
                    {
                        return false;
                    }

                    if (kind == Message.Tensor && field == TensorName)
                    {
                        tensorName = System.Text.Encoding.UTF8.GetString(child);
                    }
                    else if (kind == Message.Tensor && field == TensorExternalData)
                    {
                        external = true;
                        location ??= ReadLocation(child);
                    }

                    break;
                default:
                    return false;
            }

            if (position > data.Length)
            {
                return false;
            }
        }

        if (external && found is null)
        {
            found = $"tensor '{tensorName}' keeps its data in an external file ('{location}'); only single-file models are served: save the model with its weights inside the .onnx file";
        }

        return true;
    }

    private static Message? Child(Message kind, int field) => (kind, field) switch
    {
        (Message.Model, ModelGraph) => Message.Graph,
        (Message.Graph, GraphNode) => Message.Node,
        (Message.Graph, GraphInitializer) => Message.Tensor,
        (Message.Graph, GraphSparseInitializer) => Message.Sparse,
        (Message.Node, NodeAttribute) => Message.Attribute,
        (Message.Attribute, AttributeTensor or AttributeTensors) => Message.Tensor,
        (Message.Attribute, AttributeGraph or AttributeGraphs) => Message.Graph,
        (Message.Attribute, AttributeSparseTensor or AttributeSparseTensors) => Message.Sparse,
        (Message.Sparse, SparseValues or SparseIndices) => Message.Tensor,
        _ => null,
    };

    private static string? ReadLocation(ReadOnlySpan<byte> entry)
    {
        string? key = null;
        string? value = null;
        var position = 0;
        while (position < entry.Length)
        {
            if (!TryReadVarint(entry, ref position, out var tag) || (tag & 7) != 2 || !TryReadVarint(entry, ref position, out var length) || length > (ulong)(entry.Length - position))
            {
                return null;
            }

            var text = System.Text.Encoding.UTF8.GetString(entry.Slice(position, (int)length));
            position += (int)length;
            if ((int)(tag >> 3) == EntryKey)
            {
                key = text;
            }
            else if ((int)(tag >> 3) == EntryValue)
            {
                value = text;
            }
        }

        return key == "location" ? value : null;
    }

    internal static bool TryReadVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < data.Length; shift += 7)
        {
            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }
}
