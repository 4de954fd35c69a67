using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Serverless.ModelBuilder;

/// <summary>
/// The few protobuf wire-format primitives the ONNX builder needs, written by hand so that building
/// a model needs neither generated code nor a protobuf package.
/// </summary>
internal sealed class ProtobufWriter
{
    // Wire types from the protobuf encoding spec.
    private const int WireVarint = 0;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    private const int MaxVarintLength = 10;

    private readonly ArrayBufferWriter<byte> _buffer = new();

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    /// <summary>Copies the bytes written so far into a new array.</summary>
    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    /// <summary>Writes an <c>int64</c> field (varint; negatives take ten bytes, as protobuf specifies).</summary>
    public void WriteInt64(int field, long value)
    {
        WriteTag(field, WireVarint);
        WriteVarint(unchecked((ulong)value));
    }

    /// <summary>Writes an <c>int32</c> or enum field; negatives are sign-extended to 64 bits, as protobuf specifies.</summary>
    public void WriteInt32(int field, int value) => WriteInt64(field, value);

    /// <summary>Writes a <c>float</c> field (fixed32, little-endian).</summary>
    public void WriteFloat(int field, float value)
    {
        WriteTag(field, WireFixed32);
        BinaryPrimitives.WriteSingleLittleEndian(_buffer.GetSpan(sizeof(float)), value);
        _buffer.Advance(sizeof(float));
    }

    /// <summary>Writes a <c>string</c> field as UTF-8.</summary>
    public void WriteString(int field, string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        WriteTag(field, WireLengthDelimited);
        WriteVarint((ulong)length);
        int written = Encoding.UTF8.GetBytes(value, _buffer.GetSpan(length));
        _buffer.Advance(written);
    }

    /// <summary>Writes a <c>bytes</c> field, or an already encoded embedded message.</summary>
    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, WireLengthDelimited);
        WriteVarint((ulong)value.Length);
        _buffer.Write(value);
    }

    /// <summary>
    /// Writes an embedded message: the child is encoded first because its length prefix must
    /// precede it on the wire.
    /// </summary>
    public void WriteMessage(int field, Action<ProtobufWriter> writeChild)
    {
        var child = new ProtobufWriter();
        writeChild(child);
        WriteBytes(field, child.WrittenSpan);
    }

    /// <summary>Writes a field key: field number and wire type.</summary>
    public void WriteTag(int field, int wireType)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(field, 1);
        WriteVarint(((ulong)(uint)field << 3) | (uint)wireType);
    }

    /// <summary>Writes a base-128 varint, least significant group first.</summary>
    public void WriteVarint(ulong value)
    {
        Span<byte> span = _buffer.GetSpan(MaxVarintLength);
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        _buffer.Advance(i);
    }
}
