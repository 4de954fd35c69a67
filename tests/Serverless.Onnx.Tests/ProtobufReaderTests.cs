using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Onnx.Tests;

[TestClass]
public sealed class ProtobufReaderTests
{
    [TestMethod]
    public void ReadsEveryWireType_InOrder_WithGroupContentAsBytes()
    {
        var writer = new ProtobufWriter();
        writer.WriteInt64(1, -2);
        writer.WriteFloat(2, 1.5f);
        writer.WriteTag(3, 1);
        for (var i = 0; i < 8; i++)
        {
            writer.WriteVarint((ulong)i + 1); // the fixed64's eight bytes, 01..08
        }

        writer.WriteString(4, "hi");
        writer.WriteTag(5, 3);
        writer.WriteInt64(1, 7);
        writer.WriteTag(5, 4);
        writer.WriteInt64(6, 300);
        var bytes = writer.ToArray();

        var reader = new ProtobufReader(bytes);
        var seen = new List<string>();
        while (reader.TryRead(out var field))
        {
            seen.Add(field.Wire switch
            {
                WireType.LengthDelimited or WireType.StartGroup => $"{field.Number}:{field.Wire}:{Convert.ToHexString(field.Bytes)}@{field.Offset}",
                _ => $"{field.Number}:{field.Wire}:{field.Value:X}",
            });
        }

        Assert.IsNull(reader.Error);
        CollectionAssert.AreEqual(
            new[]
            {
                "1:Varint:FFFFFFFFFFFFFFFE",
                "2:Fixed32:3FC00000",
                "3:Fixed64:807060504030201",
                "4:LengthDelimited:6869@27",
                "5:StartGroup:0807@30",
                "6:Varint:12C",
            },
            seen);
    }

    [TestMethod]
    public void CutOffFixedField_IsAnError_NotTheEnd()
    {
        var reader = new ProtobufReader([0x09, 0x01, 0x02]); // field 1, fixed64, with 2 of its 8 bytes

        Assert.IsFalse(reader.TryRead(out _));
        StringAssert.Contains(reader.Error, "the protobuf is malformed at byte 0: field 1 (fixed64) is cut off");
    }
}
