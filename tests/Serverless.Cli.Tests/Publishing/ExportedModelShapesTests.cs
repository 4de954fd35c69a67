using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Serverless.Cli.Tests.Cluster;
using Serverless.Cli.Tests.Scoring;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>
/// Generated models of every datatype and many shapes, published through the blob drop and scored through the
/// router; each answer must equal the same model run directly in ONNX Runtime, element for element
/// (floats bit for bit, NaN as NaN), with the same datatype and shape.
/// </summary>
[TestClass]
public sealed class ExportedModelShapesTests
{
    private static TestCluster Cluster => SharedCluster.Instance;

    [TestCleanup]
    public void NoProcessCrashed() =>
        Assert.IsTrue(Cluster.AllProcessesAlive(), "every process of the cluster is still running after the test");

    // ---- 1. every datatype of the v2 protocol, boundary values, through Identity ----

    [TestMethod]
    [DataRow("BOOL", "shapes-id-bool")]
    [DataRow("INT8", "shapes-id-int8")]
    [DataRow("INT16", "shapes-id-int16")]
    [DataRow("INT32", "shapes-id-int32")]
    [DataRow("INT64", "shapes-id-int64")]
    [DataRow("UINT8", "shapes-id-uint8")]
    [DataRow("UINT16", "shapes-id-uint16")]
    [DataRow("UINT32", "shapes-id-uint32")]
    [DataRow("UINT64", "shapes-id-uint64")]
    [DataRow("FP16", "shapes-id-fp16")]
    [DataRow("FP32", "shapes-id-fp32")]
    [DataRow("FP64", "shapes-id-fp64")]
    [DataRow("BYTES", "shapes-id-bytes")]
    public async Task EveryDatatype_BoundaryValues_ThroughIdentity_EqualOnnxRuntime(string datatype, string model)
    {
        var (type, values, jsonData) = DatatypeCase(datatype);
        var bytes = DemoModels.Identity("v", type, "n");
        await PublishReadyAsync(model, bytes);
        var input = new ReferenceTensor("v", (TensorElementType)(int)type, [values.Length], values);

        var json = $$"""{"inputs":[{"name":"v","shape":[{{values.Length}}],"datatype":"{{datatype}}","data":{{jsonData}}}]}""";
        var body = await InferOkAsync(model, json);

        var expected = DirectOnnxRuntimeValues.Run(bytes, [input]);
        Assert.AreEqual(datatype, V2Datatype(expected[0].ElementType), "the reference keeps the element type");
        AssertOutputsEqual(expected, body);

        // The JSON literals mean exactly the typed values given to ONNX Runtime, so Identity returns them unchanged.
        AssertOutputEquals(input with { Name = "v_out" }, body["outputs"]![0]);
    }

    // ---- 2. several inputs and outputs ----

    [TestMethod]
    public async Task TwoInputsTwoOutputs_EqualOnnxRuntime()
    {
        var bytes = DemoModels.TwoInputs();
        await PublishReadyAsync("shapes-two-in-out", bytes);
        ReferenceTensor[] inputs =
        [
            Fp32("a", [6], [1.5f, -2f, 3.25f, 1e30f, -0f, float.MaxValue]),
            Fp32("b", [6], [4f, 0.5f, -1f, 1e10f, 0f, float.MaxValue]),
        ];

        var body = await InferOkAsync("shapes-two-in-out", Request(inputs));

        AssertOutputsEqual(DirectOnnxRuntimeValues.Run(bytes, inputs), body);
    }

    // ---- 3. dynamic and symbolic dimensions ----

    [TestMethod]
    [DataRow(1)]
    [DataRow(5)]
    public async Task DynamicBatch_WithFixedFeatures_EqualsOnnxRuntime(int batch)
    {
        var bytes = DemoModels.Identity("x", OnnxElementType.Float, "batch", 3);
        await PublishReadyAsync("shapes-dynamic-batch", bytes);
        var input = Fp32("x", [batch, 3], Enumerable.Range(0, batch * 3).Select(i => (i * 0.75f) - 2f).ToArray());

        var body = await InferOkAsync("shapes-dynamic-batch", Request([input]));

        var expected = DirectOnnxRuntimeValues.Run(bytes, [input]);
        CollectionAssert.AreEqual(new long[] { batch, 3 }, expected[0].Shape);
        AssertOutputsEqual(expected, body);
    }

    [TestMethod]
    public async Task AllDimensionsSymbolic_AnyShapeOfThatRank_EqualsOnnxRuntime()
    {
        var bytes = DemoModels.Identity("t", OnnxElementType.Int64, "a", "b", "c");
        await PublishReadyAsync("shapes-all-symbolic", bytes);

        foreach (long[] shape in new long[][] { [2, 1, 3], [1, 4, 2], [1, 1, 1] })
        {
            var count = (int)(shape[0] * shape[1] * shape[2]);
            var input = new ReferenceTensor("t", TensorElementType.Int64, shape, Enumerable.Range(0, count).Select(i => (i * 1_000_000_007L) - 3).ToArray());

            var body = await InferOkAsync("shapes-all-symbolic", Request([input]));

            AssertOutputsEqual(DirectOnnxRuntimeValues.Run(bytes, [input]), body);
        }
    }

    // ---- 4. scalars (rank 0) ----

    [TestMethod]
    public async Task Scalars_RankZero_ShapeEmpty_OneElement()
    {
        var fp32 = DemoModels.Identity("s", OnnxElementType.Float);
        var text = DemoModels.Identity("s", OnnxElementType.String);
        await PublishReadyAsync("shapes-scalar-fp32", fp32);
        await PublishReadyAsync("shapes-scalar-bytes", text);
        var fp32Input = Fp32("s", [], [2.5f]);
        var textInput = new ReferenceTensor("s", TensorElementType.String, [], new[] { "ein Skalar ✓" });

        var fp32Body = await InferOkAsync("shapes-scalar-fp32", """{"inputs":[{"name":"s","shape":[],"datatype":"FP32","data":[2.5]}]}""");
        var textBody = await InferOkAsync("shapes-scalar-bytes", """{"inputs":[{"name":"s","shape":[],"datatype":"BYTES","data":["ein Skalar ✓"]}]}""");

        var fp32Expected = DirectOnnxRuntimeValues.Run(fp32, [fp32Input]);
        var textExpected = DirectOnnxRuntimeValues.Run(text, [textInput]);
        Assert.IsEmpty(fp32Expected[0].Shape, "ONNX Runtime answers a scalar");
        AssertOutputsEqual(fp32Expected, fp32Body);
        AssertOutputsEqual(textExpected, textBody);
    }

    // ---- 5. empty tensors ----

    [TestMethod]
    [DataRow("FP32", OnnxElementType.Float, "shapes-empty-fp32")]
    [DataRow("INT64", OnnxElementType.Int64, "shapes-empty-int64")]
    [DataRow("BYTES", OnnxElementType.String, "shapes-empty-bytes")]
    [DataRow("BOOL", OnnxElementType.Bool, "shapes-empty-bool")]
    [DataRow("FP16", OnnxElementType.Float16, "shapes-empty-fp16")]
    [DataRow("UINT8", OnnxElementType.UInt8, "shapes-empty-uint8")]
    public async Task EmptyTensor_ZeroRows_EqualsOnnxRuntime(string datatype, OnnxElementType type, string model)
    {
        var bytes = DemoModels.Identity("e", type, "n", 3);
        await PublishReadyAsync(model, bytes);
        Array empty = type switch
        {
            OnnxElementType.Float => Array.Empty<float>(),
            OnnxElementType.Int64 => Array.Empty<long>(),
            OnnxElementType.Bool => Array.Empty<bool>(),
            OnnxElementType.Float16 => Array.Empty<Float16>(),
            OnnxElementType.UInt8 => Array.Empty<byte>(),
            _ => Array.Empty<string>(),
        };
        var input = new ReferenceTensor("e", (TensorElementType)(int)type, [0, 3], empty);

        var body = await InferOkAsync(model, $$"""{"inputs":[{"name":"e","shape":[0,3],"datatype":"{{datatype}}","data":[]}]}""");

        var expected = DirectOnnxRuntimeValues.Run(bytes, [input]);
        CollectionAssert.AreEqual(new long[] { 0, 3 }, expected[0].Shape);
        AssertOutputsEqual(expected, body);
    }

    // ---- 6. nested data arrays ----

    [TestMethod]
    public async Task NestedData_GivesTheSameAnswerAsFlatData()
    {
        var matrix = DemoModels.Identity("m", OnnxElementType.Int32, 2, 3);
        var cube = DemoModels.Identity("c", OnnxElementType.Float, 2, 2, 2);
        await PublishReadyAsync("shapes-nested-int32", matrix);
        await PublishReadyAsync("shapes-nested-fp32", cube);

        var flatMatrix = await InferOkAsync("shapes-nested-int32", """{"inputs":[{"name":"m","shape":[2,3],"datatype":"INT32","data":[1,2,3,4,5,6]}]}""");
        var nestedMatrix = await InferOkAsync("shapes-nested-int32", """{"inputs":[{"name":"m","shape":[2,3],"datatype":"INT32","data":[[1,2,3],[4,5,6]]}]}""");
        var flatCube = await InferOkAsync("shapes-nested-fp32", """{"inputs":[{"name":"c","shape":[2,2,2],"datatype":"FP32","data":[0.5,-1,2,3,4,5,6,-7.25]}]}""");
        var nestedCube = await InferOkAsync("shapes-nested-fp32", """{"inputs":[{"name":"c","shape":[2,2,2],"datatype":"FP32","data":[[[0.5,-1],[2,3]],[[4,5],[6,-7.25]]]}]}""");

        var matrixExpected = DirectOnnxRuntimeValues.Run(matrix, [new ReferenceTensor("m", TensorElementType.Int32, [2, 3], new[] { 1, 2, 3, 4, 5, 6 })]);
        var cubeExpected = DirectOnnxRuntimeValues.Run(cube, [Fp32("c", [2, 2, 2], [0.5f, -1f, 2f, 3f, 4f, 5f, 6f, -7.25f])]);
        AssertOutputsEqual(matrixExpected, flatMatrix);
        AssertOutputsEqual(matrixExpected, nestedMatrix);
        AssertOutputsEqual(cubeExpected, flatCube);
        AssertOutputsEqual(cubeExpected, nestedCube);
        Assert.AreEqual(flatMatrix["outputs"]!.ToJsonString(), nestedMatrix["outputs"]!.ToJsonString());
        Assert.AreEqual(flatCube["outputs"]!.ToJsonString(), nestedCube["outputs"]!.ToJsonString());
    }

    // ---- 7. the outputs filter ----

    [TestMethod]
    public async Task OutputsFilter_OneOfTwo_AndBothInReverseOrder()
    {
        var bytes = DemoModels.TwoInputs();
        await PublishReadyAsync("shapes-outputs-filter", bytes);
        ReferenceTensor[] inputs = [Fp32("a", [3], [1f, -2.5f, 3f]), Fp32("b", [3], [0.125f, 4f, -3f])];

        var onlySum = await InferOkAsync("shapes-outputs-filter", Request(inputs, ["sum"]));
        var reversed = await InferOkAsync("shapes-outputs-filter", Request(inputs, ["product", "sum"]));

        AssertOutputsEqual(DirectOnnxRuntimeValues.Run(bytes, inputs, ["sum"]), onlySum);
        AssertOutputsEqual(DirectOnnxRuntimeValues.Run(bytes, inputs, ["product", "sum"]), reversed);
    }

    // ---- 8. a graph with initializers and real operators ----

    [TestMethod]
    [DataRow(1)]
    [DataRow(5)]
    public async Task DenseLayer_MatMulAddRelu_AndGemm_WithInitializers_EqualOnnxRuntime(int batch)
    {
        var bytes = DenseLayer();
        await PublishReadyAsync("shapes-dense-layer", bytes);
        var x = Fp32("x", [batch, 8], Enumerable.Range(0, batch * 8).Select(i => MathF.Sin(i * 1.3f) * (i % 3 == 0 ? 10f : 0.1f)).ToArray());

        var body = await InferOkAsync("shapes-dense-layer", Request([x]));

        var expected = DirectOnnxRuntimeValues.Run(bytes, [x]);
        CollectionAssert.AreEqual(new long[] { batch, 4 }, expected[0].Shape);
        Assert.IsTrue(((float[])expected[0].Data).Any(v => v == 0f) && ((float[])expected[0].Data).Any(v => v > 0f), "Relu clips some values and keeps others");
        AssertOutputsEqual(expected, body);
    }

    // ---- models ----

    /// <summary>x FLOAT ["batch", 8]; y = Relu(x · W + b) and g = Gemm(x, W, b), both FLOAT ["batch", 4]; W [8, 4] and b [4] are initializers.</summary>
    private static byte[] DenseLayer()
    {
        var weights = Enumerable.Range(0, 32).Select(i => MathF.Round(MathF.Cos(i * 0.7f) * 0.5f, 3)).ToArray();
        float[] bias = [0.1f, -0.2f, 0.3f, -0.4f];
        return new OnnxModelBuilder("dense")
            .AddInput("x", OnnxElementType.Float, "batch", 8L)
            .AddOutput("y", OnnxElementType.Float, "batch", 4L)
            .AddOutput("g", OnnxElementType.Float, "batch", 4L)
            .AddInitializer("W", weights, 8, 4)
            .AddInitializer("b", bias, 4)
            .AddNode("MatMul", ["x", "W"], ["xw"])
            .AddNode("Add", ["xw", "b"], ["logits"])
            .AddNode("Relu", ["logits"], ["y"])
            .AddNode("Gemm", ["x", "W", "b"], ["g"])
            .ToBytes();
    }

    /// <summary>Boundary values of one datatype: the element type, the typed values and the JSON literal that means exactly them.</summary>
    private static (OnnxElementType Type, Array Values, string JsonData) DatatypeCase(string datatype) => datatype switch
    {
        "BOOL" => (OnnxElementType.Bool, new[] { true, false, false, true, true }, "[true,false,false,true,true]"),
        "INT8" => (OnnxElementType.Int8, new sbyte[] { sbyte.MinValue, -1, 0, 1, sbyte.MaxValue }, "[-128,-1,0,1,127]"),
        "INT16" => (OnnxElementType.Int16, new short[] { short.MinValue, -1, 0, 1, short.MaxValue }, "[-32768,-1,0,1,32767]"),
        "INT32" => (OnnxElementType.Int32, new[] { int.MinValue, -1, 0, 1, int.MaxValue }, "[-2147483648,-1,0,1,2147483647]"),
        "INT64" => (OnnxElementType.Int64, new[] { long.MinValue, -1L, 0L, 1L, long.MaxValue, 9007199254740993L }, "[-9223372036854775808,-1,0,1,9223372036854775807,9007199254740993]"),
        "UINT8" => (OnnxElementType.UInt8, new byte[] { 0, 1, 128, 254, byte.MaxValue }, "[0,1,128,254,255]"),
        "UINT16" => (OnnxElementType.UInt16, new ushort[] { 0, 1, 32768, 65534, ushort.MaxValue }, "[0,1,32768,65534,65535]"),
        "UINT32" => (OnnxElementType.UInt32, new uint[] { 0, 1, 2147483648, 4294967294, uint.MaxValue }, "[0,1,2147483648,4294967294,4294967295]"),
        "UINT64" => (OnnxElementType.UInt64, new ulong[] { 0, 1, 9223372036854775808, 18446744073709551614, ulong.MaxValue }, "[0,1,9223372036854775808,18446744073709551614,18446744073709551615]"),
        "FP16" => (OnnxElementType.Float16, HalfValues(), """[0,-0,1,-2.5,65504,-65504,6.103515625e-05,5.9604644775390625e-08,0.333251953125,2047,"Infinity","-Infinity","NaN"]"""),
        "FP32" => (
            OnnxElementType.Float,
            new[] { 0f, -0f, 1f, -1.5f, float.MaxValue, -float.MaxValue, float.Epsilon, 1.17549435E-38f, 0.1f, 3.1415927f, 16777216f, float.PositiveInfinity, float.NegativeInfinity, float.NaN },
            """[0,-0,1,-1.5,3.4028235E+38,-3.4028235E+38,1.4E-45,1.17549435E-38,0.1,3.1415927,16777216,"Infinity","-Infinity","NaN"]"""),
        "FP64" => (
            OnnxElementType.Double,
            new[] { 0d, -0d, 1d, -1.5d, double.MaxValue, -double.MaxValue, double.Epsilon, 2.2250738585072014E-308, 0.1, -123456789.123456789, 9007199254740992d, double.PositiveInfinity, double.NegativeInfinity, double.NaN },
            """[0,-0,1,-1.5,1.7976931348623157E+308,-1.7976931348623157E+308,5E-324,2.2250738585072014E-308,0.1,-123456789.123456789,9007199254740993,"Infinity","-Infinity","NaN"]"""),
        "BYTES" => (
            OnnxElementType.String,
            new[] { string.Empty, "hello", "ünïcödé ß", "日本語のテキスト", "emoji 😀👍🏽", "quote \" backslash \\ slash /", "line\nbreak\ttab", "<script>&amp;</script>", "nul\0inside", new string('x', 2000) },
            $$"""["","hello","ünïcödé ß","日本語のテキスト","emoji 😀👍🏽","quote \" backslash \\ slash \/","line\nbreak\ttab","<script>&amp;</script>","nul\u0000inside","{{new string('x', 2000)}}"]"""),
        _ => throw new ArgumentOutOfRangeException(nameof(datatype), datatype, "not a v2 datatype"),
    };

    private static Float16[] HalfValues()
    {
        Half[] values =
        [
            (Half)0f, Half.NegativeZero, (Half)1f, (Half)(-2.5f), Half.MaxValue, Half.MinValue,
            BitConverter.UInt16BitsToHalf(0x0400), // smallest normal, 2^-14
            Half.Epsilon, // smallest subnormal, 2^-24
            (Half)0.333251953125f, (Half)2047f, Half.PositiveInfinity, Half.NegativeInfinity, Half.NaN,
        ];
        return values.Select(h => new Float16(BitConverter.HalfToUInt16Bits(h))).ToArray();
    }

    // ---- helpers ----

    private static ReferenceTensor Fp32(string name, long[] shape, float[] data) => new(name, TensorElementType.Float, shape, data);

    private static async Task PublishReadyAsync(string model, byte[] bytes)
    {
        var outcome = await Cluster.PublishAsync("demo", model, "1", bytes);
        Assert.AreEqual(ModelStates.Ready, outcome.State, $"publishing '{model}': {outcome.Error}");
    }

    private static async Task<JsonNode> InferOkAsync(string model, string json)
    {
        var (status, body, response) = await Cluster.InferAsync(Cluster.DemoKey, model, json);
        using (response)
        {
            Assert.AreEqual(200, status, $"scoring '{model}': {body?.ToJsonString()}");
        }

        Assert.IsNotNull(body);
        Assert.AreEqual(model, (string?)body["model_name"]);
        return body;
    }

    /// <summary>A v2 request body; floats in their shortest round-trip form, non-finite ones as the strings the protocol uses.</summary>
    private static string Request(IEnumerable<ReferenceTensor> inputs, IEnumerable<string>? outputs = null)
    {
        var json = new StringBuilder("{\"inputs\":[");
        var first = true;
        foreach (var input in inputs)
        {
            json.Append(first ? string.Empty : ",");
            first = false;
            json.Append(CultureInfo.InvariantCulture, $"{{\"name\":{JsonSerializer.Serialize(input.Name)},\"shape\":[{string.Join(',', input.Shape)}],\"datatype\":\"{V2Datatype(input.ElementType)}\",\"data\":[");
            for (var i = 0; i < input.Data.Length; i++)
            {
                json.Append(i == 0 ? string.Empty : ",").Append(JsonLiteral(input.Data.GetValue(i)));
            }

            json.Append("]}");
        }

        json.Append(']');
        if (outputs is not null)
        {
            json.Append(",\"outputs\":[").Append(string.Join(',', outputs.Select(o => $"{{\"name\":{JsonSerializer.Serialize(o)}}}"))).Append(']');
        }

        return json.Append('}').ToString();
    }

    private static string JsonLiteral(object? value) => value switch
    {
        bool b => b ? "true" : "false",
        float f when float.IsNaN(f) => "\"NaN\"",
        float f when float.IsInfinity(f) => f > 0 ? "\"Infinity\"" : "\"-Infinity\"",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d when double.IsNaN(d) => "\"NaN\"",
        double d when double.IsInfinity(d) => d > 0 ? "\"Infinity\"" : "\"-Infinity\"",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        Float16 h => JsonLiteral((float)BitConverter.UInt16BitsToHalf(h.value)),
        string s => JsonSerializer.Serialize(s),
        IFormattable n => n.ToString(null, CultureInfo.InvariantCulture),
        _ => throw new ArgumentException($"no JSON literal for {value?.GetType().Name ?? "null"}", nameof(value)),
    };

    /// <summary>The v2 name of an element type, written out here so the test does not trust the platform's own table.</summary>
    private static string V2Datatype(TensorElementType type) => type switch
    {
        TensorElementType.Bool => "BOOL",
        TensorElementType.Int8 => "INT8",
        TensorElementType.Int16 => "INT16",
        TensorElementType.Int32 => "INT32",
        TensorElementType.Int64 => "INT64",
        TensorElementType.UInt8 => "UINT8",
        TensorElementType.UInt16 => "UINT16",
        TensorElementType.UInt32 => "UINT32",
        TensorElementType.UInt64 => "UINT64",
        TensorElementType.Float16 => "FP16",
        TensorElementType.Float => "FP32",
        TensorElementType.Double => "FP64",
        TensorElementType.String => "BYTES",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "no v2 datatype"),
    };

    /// <summary>The answer holds exactly the expected outputs (any order), each equal to its reference.</summary>
    private static void AssertOutputsEqual(IReadOnlyList<ReferenceTensor> expected, JsonNode body)
    {
        var outputs = body["outputs"]!.AsArray();
        var names = outputs.Select(o => (string?)o!["name"]).ToArray();
        CollectionAssert.AreEquivalent(expected.Select(e => e.Name).ToArray(), names, $"output names: [{string.Join(", ", names)}]");
        foreach (var reference in expected)
        {
            AssertOutputEquals(reference, outputs.Single(o => (string?)o!["name"] == reference.Name));
        }
    }

    private static void AssertOutputEquals(ReferenceTensor expected, JsonNode? output)
    {
        Assert.IsNotNull(output);
        var name = expected.Name;
        Assert.AreEqual(name, (string?)output["name"]);
        Assert.AreEqual(V2Datatype(expected.ElementType), (string?)output["datatype"], $"{name}: datatype");
        var shape = output["shape"]!.AsArray().Select(n => n!.GetValue<long>()).ToArray();
        CollectionAssert.AreEqual(expected.Shape, shape, $"{name}: shape [{string.Join(',', shape)}], expected [{string.Join(',', expected.Shape)}]");
        var data = output["data"]!.AsArray();
        Assert.AreEqual(expected.Data.Length, data.Count, $"{name}: element count");
        for (var i = 0; i < data.Count; i++)
        {
            AssertElementEquals(expected.ElementType, expected.Data.GetValue(i), data[i], $"{name}[{i}]");
        }
    }

    private static void AssertElementEquals(TensorElementType type, object? expected, JsonNode? actual, string where)
    {
        Assert.IsNotNull(actual, $"{where}: null");
        var kind = actual.GetValueKind();
        switch (type)
        {
            case TensorElementType.Bool:
                Assert.IsTrue(kind is JsonValueKind.True or JsonValueKind.False, $"{where}: {actual.ToJsonString()} is not a JSON boolean");
                Assert.AreEqual((bool)expected!, actual.GetValue<bool>(), where);
                break;
            case TensorElementType.String:
                Assert.AreEqual(JsonValueKind.String, kind, $"{where}: {actual.ToJsonString()} is not a JSON string");
                Assert.AreEqual((string)expected!, actual.GetValue<string>(), false, CultureInfo.InvariantCulture, where);
                break;
            case TensorElementType.Float:
                AssertSameBits(BitConverter.SingleToInt32Bits((float)expected!), float.IsNaN((float)expected!), ReadFloat(actual, where), where, actual);
                break;
            case TensorElementType.Float16:
                var half = (float)BitConverter.UInt16BitsToHalf(((Float16)expected!).value);
                AssertSameBits(BitConverter.SingleToInt32Bits(half), float.IsNaN(half), ReadFloat(actual, where), where, actual);
                break;
            case TensorElementType.Double:
                var d = (double)expected!;
                var got = ReadDouble(actual, where);
                Assert.IsTrue(double.IsNaN(d) ? double.IsNaN(got) : BitConverter.DoubleToInt64Bits(d) == BitConverter.DoubleToInt64Bits(got), $"{where}: {actual.ToJsonString()} is not {d:R}");
                break;
            default:
                Assert.AreEqual(JsonValueKind.Number, kind, $"{where}: {actual.ToJsonString()} is not a JSON number");
                object value = type switch
                {
                    TensorElementType.Int8 => actual.GetValue<sbyte>(),
                    TensorElementType.Int16 => actual.GetValue<short>(),
                    TensorElementType.Int32 => actual.GetValue<int>(),
                    TensorElementType.Int64 => actual.GetValue<long>(),
                    TensorElementType.UInt8 => actual.GetValue<byte>(),
                    TensorElementType.UInt16 => actual.GetValue<ushort>(),
                    TensorElementType.UInt32 => actual.GetValue<uint>(),
                    TensorElementType.UInt64 => actual.GetValue<ulong>(),
                    _ => throw new AssertFailedException($"{where}: unexpected element type {type}"),
                };
                Assert.AreEqual(expected, value, $"{where}: {actual.ToJsonString()}");
                break;
        }
    }

    private static void AssertSameBits(int expectedBits, bool expectedNaN, float actual, string where, JsonNode node) =>
        Assert.IsTrue(
            expectedNaN ? float.IsNaN(actual) : expectedBits == BitConverter.SingleToInt32Bits(actual),
            $"{where}: {node.ToJsonString()} is not {BitConverter.Int32BitsToSingle(expectedBits).ToString("R", CultureInfo.InvariantCulture)}");

    private static float ReadFloat(JsonNode node, string where) => node.GetValueKind() switch
    {
        JsonValueKind.Number => node.GetValue<float>(),
        JsonValueKind.String => (float)NonFinite(node.GetValue<string>(), where),
        _ => throw new AssertFailedException($"{where}: {node.ToJsonString()} is not a number"),
    };

    private static double ReadDouble(JsonNode node, string where) => node.GetValueKind() switch
    {
        JsonValueKind.Number => node.GetValue<double>(),
        JsonValueKind.String => NonFinite(node.GetValue<string>(), where),
        _ => throw new AssertFailedException($"{where}: {node.ToJsonString()} is not a number"),
    };

    private static double NonFinite(string text, string where) => text switch
    {
        "NaN" => double.NaN,
        "Infinity" => double.PositiveInfinity,
        "-Infinity" => double.NegativeInfinity,
        _ => throw new AssertFailedException($"{where}: \"{text}\" is neither a number nor NaN/Infinity/-Infinity"),
    };
}
