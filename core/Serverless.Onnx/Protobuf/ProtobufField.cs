namespace Serverless.Onnx;

/// <summary>
/// One field as <see cref="ProtobufReader"/> read it: a varint's or fixed field's value in <see cref="Value"/>, a
/// length-delimited field's bytes (or a group's, between its start and end tags) in <see cref="Bytes"/>.
/// </summary>
internal readonly ref struct ProtobufField
{
    public ProtobufField(int number, WireType wire, ulong value, ReadOnlySpan<byte> bytes, int offset)
    {
        Number = number;
        Wire = wire;
        Value = value;
        Bytes = bytes;
        Offset = offset;
    }

    /// <summary>The field number.</summary>
    public int Number { get; }

    /// <summary>How the field was encoded.</summary>
    public WireType Wire { get; }

    /// <summary>The value of a varint, fixed64 or fixed32 field (fixed ones little-endian, as the wire has them).</summary>
    public ulong Value { get; }

    /// <summary>The payload of a length-delimited field, or the content of a group; empty for the other wire types.</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    /// <summary>Where <see cref="Bytes"/> starts in the whole model, so a nested reader's errors name absolute offsets.</summary>
    public int Offset { get; }

    /// <summary>Where <see cref="Bytes"/> lie in the whole model.</summary>
    public Range Range => new(Offset, Offset + Bytes.Length);

    /// <summary>Whether this is a length-delimited field: a string, bytes, a message or a packed repeated field.</summary>
    public bool IsLengthDelimited => Wire == WireType.LengthDelimited;

    /// <summary>Whether this is a varint field.</summary>
    public bool IsVarint => Wire == WireType.Varint;
}
