namespace Serverless.Onnx;

/// <summary>The protobuf wire types (the low three bits of a field's tag).</summary>
internal enum WireType
{
    /// <summary>A varint: int32, int64, uint*, sint*, bool, enum.</summary>
    Varint = 0,

    /// <summary>Eight bytes: fixed64, sfixed64, double.</summary>
    Fixed64 = 1,

    /// <summary>A varint length, then that many bytes: string, bytes, messages, packed repeated fields.</summary>
    LengthDelimited = 2,

    /// <summary>The start of a group (proto2's deprecated inline message); fields follow until the matching end.</summary>
    StartGroup = 3,

    /// <summary>The end of the group started with the same field number.</summary>
    EndGroup = 4,

    /// <summary>Four bytes: fixed32, sfixed32, float.</summary>
    Fixed32 = 5,
}
