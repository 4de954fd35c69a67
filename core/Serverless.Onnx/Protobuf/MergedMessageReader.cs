namespace Serverless.Onnx;

/// <summary>
/// Reads the fields of a message that occurs more than once where the schema has one (a singular message field,
/// such as <c>ModelProto.graph</c> or <c>AttributeProto.t</c>): protobuf parsers merge every occurrence into one
/// message, repeated fields concatenated and the last value of a scalar winning. Reading the occurrences in file
/// order, appending repeated fields and overwriting scalars, is that merge; so a graph split over two field-7
/// occurrences is checked as the one graph ONNX Runtime will load, not as two halves.
/// </summary>
internal ref struct MergedMessageReader
{
    private readonly ReadOnlySpan<byte> _file;
    private readonly IReadOnlyList<Range> _segments;
    private int _next;
    private ProtobufReader _current;
    private bool _open;

    /// <param name="file">The whole model.</param>
    /// <param name="segments">Where each occurrence's bytes lie in <paramref name="file"/>, in file order.</param>
    public MergedMessageReader(ReadOnlySpan<byte> file, IReadOnlyList<Range> segments)
    {
        _file = file;
        _segments = segments;
    }

    /// <summary>Null while the bytes read so far are well-formed; else why not (see <see cref="ProtobufReader.Error"/>).</summary>
    public string? Error { get; private set; }

    /// <summary>Reads the next field of the merged message; false at its end or on malformed bytes.</summary>
    public bool TryRead(out ProtobufField field)
    {
        while (true)
        {
            if (_open)
            {
                if (_current.TryRead(out field))
                {
                    return true;
                }

                if (_current.Error is not null)
                {
                    Error = _current.Error;
                    return false;
                }

                _open = false;
            }

            if (Error is not null || _next >= _segments.Count)
            {
                field = default;
                return false;
            }

            var segment = _segments[_next++];
            _current = new ProtobufReader(_file[segment], segment.Start.Value);
            _open = true;
        }
    }
}
