using System.Buffers.Binary;
using System.Globalization;

namespace Serverless.Onnx;

/// <summary>
/// Reads the fields of one protobuf message in order, without allocating: the caller walks into the nested
/// messages it knows with a new reader over <see cref="ProtobufField.Bytes"/> and ignores the rest. Reads every
/// wire type as a protobuf parser does, groups included: a group (which ONNX never uses, but any parser accepts
/// as an unknown field) is skipped to its matching end tag, so bytes placed in front of the fields that matter
/// cannot stop the walk. Bytes no protobuf parser would accept end the walk with <see cref="Error"/> saying why,
/// so a caller can refuse the file rather than leave it unchecked.
/// </summary>
internal ref struct ProtobufReader
{
    /// <summary>Protobuf's largest field number (2^29 - 1).</summary>
    private const ulong MaxFieldNumber = (1 << 29) - 1;

    private readonly ReadOnlySpan<byte> _data;
    private readonly int _offset;
    private int _position;

    /// <param name="data">The message's bytes.</param>
    /// <param name="offset">Where <paramref name="data"/> starts in the whole file, for the offsets in <see cref="Error"/>.</param>
    public ProtobufReader(ReadOnlySpan<byte> data, int offset = 0)
    {
        _data = data;
        _offset = offset;
    }

    /// <summary>Null while the bytes read so far are well-formed; else why they are not, with the offset in the file.</summary>
    public string? Error { get; private set; }

    /// <summary>Reads the next field; false at the end of the message or when the bytes are malformed (then <see cref="Error"/> is set).</summary>
    public bool TryRead(out ProtobufField field)
    {
        field = default;
        if (Error is not null || _position >= _data.Length)
        {
            return false;
        }

        var tagAt = _position;
        if (!TryReadTag(out var number, out var wire))
        {
            return false;
        }

        switch (wire)
        {
            case WireType.Varint:
                if (!TryReadVarint(_data, ref _position, out var value))
                {
                    return Fail(tagAt, $"the varint of field {number} is cut off or longer than 10 bytes");
                }

                field = new ProtobufField(number, wire, value, default, 0);
                return true;
            case WireType.Fixed64:
                if (_data.Length - _position < 8)
                {
                    return Fail(tagAt, $"field {number} (fixed64) is cut off");
                }

                field = new ProtobufField(number, wire, BinaryPrimitives.ReadUInt64LittleEndian(_data[_position..]), default, 0);
                _position += 8;
                return true;
            case WireType.Fixed32:
                if (_data.Length - _position < 4)
                {
                    return Fail(tagAt, $"field {number} (fixed32) is cut off");
                }

                field = new ProtobufField(number, wire, BinaryPrimitives.ReadUInt32LittleEndian(_data[_position..]), default, 0);
                _position += 4;
                return true;
            case WireType.LengthDelimited:
                if (!TryReadVarint(_data, ref _position, out var length))
                {
                    return Fail(tagAt, $"the length of field {number} is cut off");
                }

                if (length > (ulong)(_data.Length - _position))
                {
                    return Fail(tagAt, string.Create(CultureInfo.InvariantCulture, $"field {number} declares {length} bytes but its message has {_data.Length - _position} left"));
                }

                field = new ProtobufField(number, wire, length, _data.Slice(_position, (int)length), _offset + _position);
                _position += (int)length;
                return true;
            case WireType.StartGroup:
                var contentAt = _position;
                if (!TrySkipGroup(tagAt, number, out var endTagAt))
                {
                    return false;
                }

                field = new ProtobufField(number, wire, 0, _data[contentAt..endTagAt], _offset + contentAt);
                return true;
            case WireType.EndGroup:
                return Fail(tagAt, $"an end-group tag for field {number} has no group to close");
            default:
                return Fail(tagAt, $"field {number} has wire type {(int)wire}, which protobuf does not define");
        }
    }

    /// <summary>Reads a packed repeated varint field (or adds nothing and returns false when it is malformed).</summary>
    public static bool TryReadPackedVarints(ReadOnlySpan<byte> payload, List<long> into)
    {
        var position = 0;
        while (position < payload.Length)
        {
            if (!TryReadVarint(payload, ref position, out var value))
            {
                return false;
            }

            into.Add((long)value);
        }

        return true;
    }

    /// <summary>Reads a base-128 varint of at most 10 bytes.</summary>
    public static bool TryReadVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
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

    private bool TryReadTag(out int number, out WireType wire)
    {
        number = 0;
        wire = default;
        var tagAt = _position;
        if (!TryReadVarint(_data, ref _position, out var tag) || tag > uint.MaxValue)
        {
            return Fail(tagAt, "a field tag is cut off or out of range");
        }

        var field = tag >> 3;
        if (field is 0 or > MaxFieldNumber)
        {
            return Fail(tagAt, string.Create(CultureInfo.InvariantCulture, $"field number {field} is not a valid protobuf field number"));
        }

        number = (int)field;
        wire = (WireType)(tag & 7);
        return true;
    }

    /// <summary>
    /// Skips a group's fields up to its end tag, nested groups included, without recursion (groups nest at most
    /// <see cref="OnnxModelBounds.MaxNesting"/> deep, the reader's one depth limit), checking that each end tag
    /// closes the group it should, as protobuf parsers do.
    /// </summary>
    private bool TrySkipGroup(int startTagAt, int number, out int endTagAt)
    {
        endTagAt = 0;
        Span<int> open = stackalloc int[OnnxModelBounds.MaxNesting];
        var depth = 0;
        open[depth++] = number;
        while (true)
        {
            if (_position >= _data.Length)
            {
                return Fail(startTagAt, $"the group of field {open[depth - 1]} has no end tag before its message ends");
            }

            var tagAt = _position;
            if (!TryReadTag(out var inner, out var wire))
            {
                return false;
            }

            switch (wire)
            {
                case WireType.Varint:
                    if (!TryReadVarint(_data, ref _position, out _))
                    {
                        return Fail(tagAt, $"the varint of field {inner} is cut off or longer than 10 bytes");
                    }

                    break;
                case WireType.Fixed64 or WireType.Fixed32:
                    var size = wire == WireType.Fixed64 ? 8 : 4;
                    if (_data.Length - _position < size)
                    {
                        return Fail(tagAt, $"field {inner} is cut off");
                    }

                    _position += size;
                    break;
                case WireType.LengthDelimited:
                    if (!TryReadVarint(_data, ref _position, out var length) || length > (ulong)(_data.Length - _position))
                    {
                        return Fail(tagAt, $"the length of field {inner} is cut off or runs past its message");
                    }

                    _position += (int)length;
                    break;
                case WireType.StartGroup:
                    if (depth == open.Length)
                    {
                        return Fail(tagAt, $"groups nest more than {OnnxModelBounds.MaxNesting} deep");
                    }

                    open[depth++] = inner;
                    break;
                case WireType.EndGroup:
                    if (inner != open[depth - 1])
                    {
                        return Fail(tagAt, $"an end-group tag for field {inner} closes the group of field {open[depth - 1]}");
                    }

                    if (--depth == 0)
                    {
                        endTagAt = tagAt;
                        return true;
                    }

                    break;
                default:
                    return Fail(tagAt, $"field {inner} has wire type {(int)wire}, which protobuf does not define");
            }
        }
    }

    private bool Fail(int at, string reason)
    {
        Error = string.Create(CultureInfo.InvariantCulture, $"the protobuf is malformed at byte {_offset + at}: {reason}");
        _position = _data.Length;
        return false;
    }
}
