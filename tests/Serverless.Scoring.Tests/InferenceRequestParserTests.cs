using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Serverless.Scoring;
using Serverless.Core.Serving;

namespace Serverless.Scoring.Tests;

[TestClass]
public sealed class InferenceRequestParserTests
{
    private static InferenceRequest Parse(string json) => InferenceRequestParser.Parse(Encoding.UTF8.GetBytes(json));

    private static ServingException Reject(string json, params string[] messageParts)
    {
        var error = Assert.ThrowsExactly<ServingException>(() => Parse(json));
        Assert.AreEqual(ServingErrorCode.InvalidArgument, error.Code, error.Message);
        foreach (var part in messageParts)
        {
            StringAssert.Contains(error.Message, part);
        }

        return error;
    }

    private static string Body(string name, string datatype, string shape, string data) =>
        $$"""{"inputs":[{"name":"{{name}}","datatype":"{{datatype}}","shape":{{shape}},"data":{{data}}}]}""";

    private static InputTensor Single(string datatype, string shape, string data)
    {
        var request = Parse(Body("x", datatype, shape, data));
        Assert.HasCount(1, request.Inputs);
        return request.Inputs[0];
    }

    [TestMethod]
    public void ParsesAnFp32Input()
    {
        var request = Parse("""{"id":"req-1","inputs":[{"name":"x","datatype":"FP32","shape":[2,3],"data":[1,2.5,-3,4e2,0,1e-3]}]}""");
        Assert.AreEqual("req-1", request.Id);
        Assert.IsNull(request.RequestedOutputs);
        var x = request.Inputs[0];
        Assert.AreEqual("x", x.Name);
        Assert.AreEqual(TensorElementType.Float, x.ElementType);
        CollectionAssert.AreEqual(new long[] { 2, 3 }, x.Shape);
        CollectionAssert.AreEqual(new[] { 1f, 2.5f, -3f, 400f, 0f, 0.001f }, (float[])x.Data);
    }

    [TestMethod]
    public void ParsesSeveralInputsInOrder()
    {
        var request = Parse("""
            {"inputs":[
              {"name":"a","datatype":"FP32","shape":[2],"data":[1,2]},
              {"name":"b","datatype":"INT64","shape":[1],"data":[9007199254740993]}
            ]}
            """);
        CollectionAssert.AreEqual(new[] { "a", "b" }, request.Inputs.Select(i => i.Name).ToArray());
        CollectionAssert.AreEqual(new[] { 9007199254740993L }, (long[])request.Inputs[1].Data, "INT64 must not pass through double");
        Assert.IsNull(request.Id);
    }

    [TestMethod]
    [DataRow("{")]
    [DataRow("")]
    [DataRow("{\"inputs\":[}")]
    [DataRow("not json")]
    public void MalformedJson_Is400(string json) => Reject(json, "JSON");

    [TestMethod]
    [DataRow("[]")]
    [DataRow("42")]
    [DataRow("\"inputs\"")]
    [DataRow("null")]
    public void ABodyThatIsNotAnObject_Is400(string json) => Reject(json, "object");

    [TestMethod]
    [DataRow("{}")]
    [DataRow("""{"inputs":null}""")]
    [DataRow("""{"inputs":{"name":"x"}}""")]
    [DataRow("""{"input":[]}""")]
    public void MissingInputs_Is400(string json) => Reject(json, "\"inputs\"");

    [TestMethod]
    public void AnInputWithoutName_Is400()
    {
        Reject("""{"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]}""", "name");
        Reject("""{"inputs":[{"name":"","datatype":"FP32","shape":[1],"data":[1]}]}""", "name");
        Reject("""{"inputs":[42]}""", "inputs");
    }

    [TestMethod]
    public void MissingDatatypeShapeOrData_Is400NamingTheInput()
    {
        Reject("""{"inputs":[{"name":"feat","shape":[1],"data":[1]}]}""", "'feat'", "datatype");
        Reject("""{"inputs":[{"name":"feat","datatype":"FP32","data":[1]}]}""", "'feat'", "shape");
        Reject("""{"inputs":[{"name":"feat","datatype":"FP32","shape":[1]}]}""", "'feat'", "data");
        Reject("""{"inputs":[{"name":"feat","datatype":"FP32","shape":[1],"data":1}]}""", "'feat'", "data");
    }

    [TestMethod]
    [DataRow("FP8")]
    [DataRow("fp32")]
    [DataRow("FLOAT")]
    [DataRow("BF16")]
    [DataRow("")]
    public void UnknownDatatype_Is400NamingTheInputAndType(string datatype) =>
        Reject(Body("feat", datatype, "[1]", "[1]"), "'feat'", $"'{datatype}'", "FP32");

    [TestMethod]
    [DataRow("[-1]")]
    [DataRow("[2,-3]")]
    [DataRow("[1.5]")]
    [DataRow("[\"2\"]")]
    [DataRow("[null]")]
    public void BadShapeDimension_Is400NamingTheInput(string shape) =>
        Reject(Body("feat", "FP32", shape, "[1]"), "'feat'", "dimension");

    [TestMethod]
    public void TooFewElements_Is400NamingTheInputAndCounts() =>
        Reject(Body("feat", "FP32", "[2,2]", "[1,2,3]"), "'feat'", "3", "4");

    [TestMethod]
    public void TooManyElements_Is400NamingTheInputAndCounts() =>
        Reject(Body("feat", "FP32", "[2,2]", "[1,2,3,4,5,6]"), "'feat'", "6", "4");

    [TestMethod]
    public void ZeroElementsForANonEmptyShape_Is400() =>
        Reject(Body("feat", "FP32", "[1]", "[]"), "'feat'");

    [TestMethod]
    public void AStringInFp32Data_Is400NamingTheInputAndElement() =>
        Reject(Body("feat", "FP32", "[3]", """[1,"two",3]"""), "'feat'", "element 1", "FP32");

    [TestMethod]
    [DataRow("INT8", "200")]
    [DataRow("INT8", "-129")]
    [DataRow("UINT8", "-1")]
    [DataRow("UINT8", "256")]
    [DataRow("INT16", "40000")]
    [DataRow("UINT16", "65536")]
    [DataRow("INT32", "2147483648")]
    [DataRow("UINT32", "-1")]
    [DataRow("INT64", "9223372036854775808")]
    [DataRow("UINT64", "-1")]
    [DataRow("INT32", "1.5")]
    [DataRow("INT32", "\"1\"")]
    [DataRow("INT32", "true")]
    [DataRow("FP32", "1e39")]
    [DataRow("FP16", "70000")]
    [DataRow("FP64", "null")]
    [DataRow("BOOL", "2")]
    [DataRow("BOOL", "\"true\"")]
    [DataRow("BYTES", "1")]
    [DataRow("FP32", "{}")]
    public void OutOfRangeOrWrongKindOfValue_Is400(string datatype, string value) =>
        Reject(Body("feat", datatype, "[2]", $"[{(datatype == "BYTES" ? "\"a\"" : "0")},{value}]"), "'feat'", "element 1", datatype);

    [TestMethod]
    public void IntegerBounds_AreAccepted()
    {
        CollectionAssert.AreEqual(new sbyte[] { -128, 127 }, (sbyte[])Single("INT8", "[2]", "[-128,127]").Data);
        CollectionAssert.AreEqual(new byte[] { 0, 255 }, (byte[])Single("UINT8", "[2]", "[0,255]").Data);
        CollectionAssert.AreEqual(new short[] { short.MinValue, short.MaxValue }, (short[])Single("INT16", "[2]", "[-32768,32767]").Data);
        CollectionAssert.AreEqual(new ushort[] { 0, ushort.MaxValue }, (ushort[])Single("UINT16", "[2]", "[0,65535]").Data);
        CollectionAssert.AreEqual(new[] { int.MinValue, int.MaxValue }, (int[])Single("INT32", "[2]", "[-2147483648,2147483647]").Data);
        CollectionAssert.AreEqual(new uint[] { 0, uint.MaxValue }, (uint[])Single("UINT32", "[2]", "[0,4294967295]").Data);
        CollectionAssert.AreEqual(new[] { long.MinValue, long.MaxValue }, (long[])Single("INT64", "[2]", "[-9223372036854775808,9223372036854775807]").Data);
        CollectionAssert.AreEqual(new[] { 0UL, ulong.MaxValue }, (ulong[])Single("UINT64", "[2]", "[0,18446744073709551615]").Data);
    }

    [TestMethod]
    public void NestedData_IsFlattenedRowMajor()
    {
        var x = Single("INT32", "[2,3]", "[[1,2,3],[4,5,6]]");
        CollectionAssert.AreEqual(new[] { 1, 2, 3, 4, 5, 6 }, (int[])x.Data);

        var deep = Single("INT32", "[2,2,2]", "[[[1,2],[3,4]],[[5,6],[7,8]]]");
        CollectionAssert.AreEqual(new[] { 1, 2, 3, 4, 5, 6, 7, 8 }, (int[])deep.Data);
    }

    [TestMethod]
    public void NestedData_WithTooManyElements_Is400() =>
        Reject(Body("feat", "INT32", "[2,2]", "[[1,2],[3,4],[5,6]]"), "'feat'", "6", "4");

    [TestMethod]
    public void Bool_FromTrueFalse_AndZeroOne()
    {
        var x = Single("BOOL", "[4]", "[true,false,1,0]");
        Assert.AreEqual(TensorElementType.Bool, x.ElementType);
        CollectionAssert.AreEqual(new[] { true, false, true, false }, (bool[])x.Data);
    }

    [TestMethod]
    public void Bytes_FromStrings()
    {
        var x = Single("BYTES", "[3]", """["hello","","h\u00e9llo \"quoted\""]""");
        Assert.AreEqual(TensorElementType.String, x.ElementType);
        CollectionAssert.AreEqual(new[] { "hello", "", "héllo \"quoted\"" }, (string[])x.Data);
    }

    [TestMethod]
    public void Fp16_ValuesAreConvertedToHalfBits()
    {
        var x = Single("FP16", "[5]", """[1.5,-2.25,0,65504,"NaN"]""");
        Assert.AreEqual(TensorElementType.Float16, x.ElementType);
        var data = (Float16[])x.Data;
        Assert.AreEqual((ushort)0x3E00, data[0].value);
        Assert.AreEqual((ushort)0xC080, data[1].value);
        Assert.AreEqual((ushort)0x0000, data[2].value);
        Assert.AreEqual((ushort)0x7BFF, data[3].value);
        Assert.IsTrue(Half.IsNaN(BitConverter.UInt16BitsToHalf(data[4].value)));
    }

    [TestMethod]
    public void NaNAndInfinityStrings_AreAcceptedForFloats()
    {
        var f = (float[])Single("FP32", "[4]", """["NaN","Infinity","-Infinity",1]""").Data;
        Assert.IsTrue(float.IsNaN(f[0]));
        Assert.AreEqual(float.PositiveInfinity, f[1]);
        Assert.AreEqual(float.NegativeInfinity, f[2]);
        Assert.AreEqual(1f, f[3]);

        var d = (double[])Single("FP64", "[3]", """["NaN","Infinity","-Infinity"]""").Data;
        Assert.IsTrue(double.IsNaN(d[0]));
        Assert.AreEqual(double.PositiveInfinity, d[1]);
        Assert.AreEqual(double.NegativeInfinity, d[2]);
    }

    [TestMethod]
    public void Fp32_AcceptsTheShortestFormOfFloatMaxValue()
    {
        var text = float.MaxValue.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        var f = (float[])Single("FP32", "[2]", $"[{text},-{text}]").Data;
        CollectionAssert.AreEqual(new[] { float.MaxValue, float.MinValue }, f);
    }

    [TestMethod]
    [DataRow("\"nan\"")]
    [DataRow("\"inf\"")]
    [DataRow("\"1.5\"")]
    public void OtherStrings_AreRejectedForFloats(string value) =>
        Reject(Body("feat", "FP32", "[1]", $"[{value}]"), "'feat'", "element 0");

    [TestMethod]
    public void Fp64_KeepsFullPrecision()
    {
        var d = (double[])Single("FP64", "[2]", "[0.1,1.0000000000000002]").Data;
        Assert.AreEqual(0.1, d[0]);
        Assert.AreEqual(1.0000000000000002, d[1]);
    }

    [TestMethod]
    public void DuplicateInputNames_Are400NamingTheInput() =>
        Reject("""
            {"inputs":[
              {"name":"feat","datatype":"FP32","shape":[1],"data":[1]},
              {"name":"feat","datatype":"FP32","shape":[1],"data":[2]}
            ]}
            """, "'feat'", "more than once");

    [TestMethod]
    public void OutputsFilter_IsParsed()
    {
        var request = Parse("""{"inputs":[],"outputs":[{"name":"sum"},{"name":"product","parameters":{"binary_data":false}}]}""");
        Assert.IsEmpty(request.Inputs);
        Assert.IsNotNull(request.RequestedOutputs);
        CollectionAssert.AreEqual(new[] { "sum", "product" }, request.RequestedOutputs);

        Assert.IsNull(Parse("""{"inputs":[],"outputs":null}""").RequestedOutputs);
        var empty = Parse("""{"inputs":[],"outputs":[]}""").RequestedOutputs;
        Assert.IsNotNull(empty);
        Assert.IsEmpty(empty);
    }

    [TestMethod]
    [DataRow("""{"inputs":[],"outputs":"sum"}""")]
    [DataRow("""{"inputs":[],"outputs":["sum"]}""")]
    [DataRow("""{"inputs":[],"outputs":[{"name":1}]}""")]
    [DataRow("""{"inputs":[],"outputs":[{}]}""")]
    public void MalformedOutputs_Are400(string json) => Reject(json, "outputs");

    [TestMethod]
    public void NonStringId_Is400() => Reject("""{"id":5,"inputs":[]}""", "id");

    [TestMethod]
    public void ElementCountOverflow_IsRejectedWithoutAllocating()
    {
        var body = Encoding.UTF8.GetBytes(Body("huge", "FP32", "[100000,100000,100000]", "[1]"));
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.ThrowsExactly<ServingException>(() => InferenceRequestParser.Parse(body));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.AreEqual(ServingErrorCode.InvalidArgument, error.Code);
        StringAssert.Contains(error.Message, "'huge'");
        StringAssert.Contains(error.Message, "limit");
        Assert.IsLessThan(1L << 20, allocated, $"{allocated} bytes allocated for a rejected shape");
    }

    [TestMethod]
    public void ElementCountOverflow_BeyondLongRange_IsRejected()
    {
        // 2^62 * 4 overflows a long; the check must not wrap around to a small or negative count.
        Reject(Body("huge", "FP32", "[4611686018427387904,4]", "[1]"), "'huge'", "limit");
        Reject(Body("huge", "FP32", "[4294967296,4294967296,4294967296]", "[1]"), "'huge'", "limit");
    }

    [TestMethod]
    public void JustOverTheElementLimit_IsRejected() =>
        Reject(Body("big", "UINT8", $"[{InferenceRequestParser.MaxElements + 1}]", "[1]"), "'big'", "limit");

    [TestMethod]
    public void ZeroSizedDimension_GivesAnEmptyTensor()
    {
        var x = Single("FP32", "[0,3]", "[]");
        CollectionAssert.AreEqual(new long[] { 0, 3 }, x.Shape);
        Assert.AreEqual(0, x.Data.Length);

        // A zero anywhere makes the count 0, even after dimensions whose product is over the limit.
        var y = Single("FP32", "[100000,100000,100000,0]", "[]");
        Assert.AreEqual(0, y.Data.Length);
    }

    [TestMethod]
    public void ScalarShape_HasOneElement()
    {
        var x = Single("INT64", "[]", "[7]");
        Assert.IsEmpty(x.Shape);
        CollectionAssert.AreEqual(new[] { 7L }, (long[])x.Data);
    }

    [TestMethod]
    public void DeeplyNestedJson_Is400NotAStackOverflow()
    {
        var json = Body("deep", "FP32", "[1]", new string('[', 200) + "1" + new string(']', 200));
        Reject(json);
    }
}
