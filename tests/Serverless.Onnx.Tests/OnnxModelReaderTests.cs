using Serverless.ModelBuilder;
using Serverless.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Serverless.Onnx.Tests;

[TestClass]
public sealed class OnnxModelReaderTests
{
    /// <summary>Field 99, start group (99 &lt;&lt; 3 | 3 = 795 = 0x9B 0x06), then its end (99 &lt;&lt; 3 | 4 = 796 = 0x9C 0x06).</summary>
    private static readonly byte[] EmptyGroup99 = [0x9B, 0x06, 0x9C, 0x06];

    /// <summary>Field 3243, start group (3243 &lt;&lt; 3 | 3 = 25947 = 0xDB 0xCA 0x01), then its end (25948 = 0xDC 0xCA 0x01).</summary>
    private static readonly byte[] EmptyGroup3243 = [0xDB, 0xCA, 0x01, 0xDC, 0xCA, 0x01];

    private static readonly OnnxModelFindings NoFindings = new(null, null, null);

    [TestMethod]
    public void OrdinaryModels_HaveNoFindings()
    {
        Assert.AreEqual(NoFindings, OnnxModelReader.Read(DemoModels.Linear()));
        Assert.AreEqual(NoFindings, OnnxModelReader.Read(DemoModels.ZipMapClassifier()));
        Assert.AreEqual(NoFindings, OnnxModelReader.Read([]));
    }

    [TestMethod]
    public void ExternalData_IsFound_NamingTheTensorAndItsFile()
    {
        var findings = OnnxModelReader.Read(DemoModels.ExternalData());

        StringAssert.Contains(findings.ExternalData, "tensor 'W'");
        StringAssert.Contains(findings.ExternalData, "('weights.bin')");
        Assert.IsNull(findings.Malformed);
    }

    [TestMethod]
    public void GroupTags_AreEncodedAsTheSpecSays()
    {
        // The tag is the varint of (field << 3) | wire type; wire types 3 and 4 start and end a group.
        CollectionAssert.AreEqual(EmptyGroup99, Tags(99));
        CollectionAssert.AreEqual(EmptyGroup3243, Tags(3243));

        static byte[] Tags(int field)
        {
            var writer = new ProtobufWriter();
            writer.WriteTag(field, 3);
            writer.WriteTag(field, 4);
            return writer.ToArray();
        }
    }

    [TestMethod]
    [DataRow(99)]
    [DataRow(3243)]
    public void ModelPrefixedWithAnUnknownGroup_IsCheckedForExternalData_LikeTheModelWithoutIt(int field)
    {
        var model = DemoModels.ExternalData();
        var prefixed = Concat(field == 99 ? EmptyGroup99 : EmptyGroup3243, model);

        var plain = OnnxModelReader.Read(model);
        var findings = OnnxModelReader.Read(prefixed);

        Assert.IsNotNull(plain.ExternalData);
        Assert.AreEqual(plain, findings, "a parser skips the unknown group and reads the graph after it");
    }

    [TestMethod]
    public void UnknownGroupWithFieldsOfEveryWireTypeAndANestedGroup_IsSkippedWhole()
    {
        // Inside the group: a varint, a fixed64, a length-delimited field numbered like ModelProto.graph (7) that
        // holds no graph, a fixed32, and a nested group: all the group's content, none of it the model's.
        var writer = new ProtobufWriter();
        writer.WriteTag(5000, 3);
        writer.WriteInt64(1, 150);
        writer.WriteTag(2, 1);
        for (var i = 0; i < 8; i++)
        {
            writer.WriteVarint(0x11); // a fixed64's eight bytes, each written as a one-byte varint
        }

        writer.WriteBytes(3, [1, 2, 3]);
        writer.WriteString(7, "not a graph");
        writer.WriteFloat(4, 1.5f);
        writer.WriteTag(6, 3);
        writer.WriteInt64(1, 1);
        writer.WriteTag(6, 4);
        writer.WriteTag(5000, 4);
        var bomb = OnnxModelBoundsTests.ConstantOfShape([100_000, 100_000, 100]);

        var findings = OnnxModelReader.Read(Concat(writer.ToArray(), bomb));

        Assert.IsNull(findings.Malformed, findings.Malformed);
        StringAssert.Contains(findings.Unbounded, "ConstantOfShape", "the graph after the group is still checked");
    }

    [TestMethod]
    [DataRow(new byte[] { 0x9B, 0x06 }, 0, "the group of field 99 has no end tag")]
    [DataRow(new byte[] { 0x9B, 0x06, 0xA4, 0x06 }, 2, "an end-group tag for field 100 closes the group of field 99")]
    [DataRow(new byte[] { 0x9C, 0x06 }, 0, "an end-group tag for field 99 has no group to close")]
    [DataRow(new byte[] { 0x0E }, 0, "field 1 has wire type 6, which protobuf does not define")]
    [DataRow(new byte[] { 0x3A, 0xFF, 0xFF, 0x03 }, 0, "field 7 declares 65535 bytes but its message has")]
    public void MalformedProtobuf_IsReported_WithTheReasonAndWhere(byte[] bytes, int offset, string reason)
    {
        // Put before a model with external data: bytes no parser accepts are reported, not passed over silently.
        var findings = OnnxModelReader.Read(Concat(bytes, DemoModels.ExternalData()));

        StringAssert.Contains(findings.Malformed, $"the protobuf is malformed at byte {offset}: {reason}");
    }

    [TestMethod]
    public void MalformedBytesInsideAGraph_AreReported_WithTheirOffsetInTheFile()
    {
        var writer = new ProtobufWriter();
        writer.WriteBytes(7, [0x0A, 0x09, 0x01]); // a graph whose first node declares 9 bytes and has 1
        var findings = OnnxModelReader.Read(writer.ToArray());

        StringAssert.Contains(findings.Malformed, "the protobuf is malformed at byte 2: field 1 declares 9 bytes");
        Assert.IsNull(OnnxModelBounds.Check(writer.ToArray()), "the bounds alone have nothing to say");
    }

    [TestMethod]
    public void TruncatedModel_IsMalformed()
    {
        var linear = DemoModels.Linear();

        StringAssert.Contains(OnnxModelReader.Read(linear[..(linear.Length / 2)]).Malformed, "the protobuf is malformed");
    }

    [TestMethod]
    public void GroupsNestedDeeperThanTheLimit_AreMalformed()
    {
        var writer = new ProtobufWriter();
        for (var i = 0; i <= OnnxModelBounds.MaxNesting; i++)
        {
            writer.WriteTag(100 + i, 3);
        }

        for (var i = OnnxModelBounds.MaxNesting; i >= 0; i--)
        {
            writer.WriteTag(100 + i, 4);
        }

        StringAssert.Contains(OnnxModelReader.Read(writer.ToArray()).Malformed, $"groups nest more than {OnnxModelBounds.MaxNesting} deep");
    }

    [TestMethod]
    public void GraphsNestedToTheLimit_AreRead_AndOneDeeper_IsRefused()
    {
        Assert.IsNull(OnnxModelReader.Read(NestedGraphs(OnnxModelBounds.MaxNesting)).Unbounded);
        StringAssert.Contains(OnnxModelReader.Read(NestedGraphs(OnnxModelBounds.MaxNesting + 1)).Unbounded, $"graphs nest more than {OnnxModelBounds.MaxNesting} deep");
    }

    [TestMethod]
    public void ExternalData_OutranksABrokenBound()
    {
        var bytes = new OnnxModelBuilder("both")
            .AddInput("x", OnnxElementType.Float, 1L)
            .AddOutput("y", OnnxElementType.Float, 100_000L, 100_000L, 100L)
            .AddInitializer("shape", new long[] { 100_000, 100_000, 100 }, 3)
            .AddExternalInitializer("W", OnnxElementType.Float, [1], "weights.bin")
            .AddNode("ConstantOfShape", ["shape"], ["zeros"])
            .AddNode("Add", ["x", "zeros"], ["y"])
            .ToBytes();

        StringAssert.Contains(OnnxModelReader.Read(bytes).ExternalData, "tensor 'W'", "the publisher reports external data first, as before the readers merged");
    }

    [TestMethod]
    public void OnnxRuntime_OpensAModelPrefixedWithAnUnknownGroup()
    {
        // Why the reader must skip groups rather than give up: ONNX Runtime's parser accepts them, so a reader
        // that stopped there would let such a model reach ORT unchecked.
        using var session = new InferenceSession(Concat(EmptyGroup3243, DemoModels.Linear()));

        Assert.AreEqual("x", session.InputMetadata.Keys.Single());
        Assert.AreEqual(NoFindings, OnnxModelReader.Read(Concat(EmptyGroup3243, DemoModels.Linear())));
    }

    /// <summary>A model whose graph holds a node with a graph attribute, and so on, <paramref name="depth"/> graphs in all.</summary>
    private static byte[] NestedGraphs(int depth)
    {
        var model = new ProtobufWriter();
        model.WriteMessage(7, graph => WriteGraph(graph, depth));
        return model.ToArray();

        static void WriteGraph(ProtobufWriter graph, int remaining)
        {
            if (remaining <= 1)
            {
                return;
            }

            graph.WriteMessage(1, node =>
            {
                node.WriteString(4, "If");
                node.WriteMessage(5, attribute =>
                {
                    attribute.WriteString(1, "then_branch");
                    attribute.WriteMessage(6, inner => WriteGraph(inner, remaining - 1));
                });
            });
        }
    }

    private static byte[] Concat(byte[] first, byte[] second) => [.. first, .. second];
}
