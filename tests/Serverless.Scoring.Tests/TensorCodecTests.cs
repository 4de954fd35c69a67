using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Serverless.Scoring;
using Serverless.Core.Serving;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Scoring.Tests;

[TestClass]
public sealed class TensorCodecTests
{
    private static ModelSession Open(byte[] model, string name = "m", string version = "1") =>
        new(name, version, TestAssemblySetup.Runtime.CreateSession(model), model.LongLength);

    /// <summary>Parses the request, runs it through the codec and the session, and parses the answer back.</summary>
    private static JsonElement Score(ModelSession session, string json)
    {
        var request = InferenceRequestParser.Parse(Encoding.UTF8.GetBytes(json));
        var values = TensorCodec.CreateInputs(session, request, out var names);
        try
        {
            Assert.HasCount(session.Inputs.Length, values);
            var outputNames = TensorCodec.SelectOutputs(session, request);
            using var runOptions = new RunOptions();
            using var outputs = session.Session.Run(runOptions, names, values, outputNames);
            var buffer = new ArrayBufferWriter<byte>();
            TensorCodec.WriteResponse(buffer, session.Model, session.Version, request.Id, outputNames, outputs.ToArray());
            using var document = JsonDocument.Parse(buffer.WrittenMemory);
            return document.RootElement.Clone();
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    private static ServingException Reject(ModelSession session, string json, params string[] messageParts)
    {
        var request = InferenceRequestParser.Parse(Encoding.UTF8.GetBytes(json));
        var error = Assert.ThrowsExactly<ServingException>(() =>
        {
            var values = TensorCodec.CreateInputs(session, request, out _);
            foreach (var value in values)
            {
                value.Dispose();
            }
        });
        Assert.AreEqual(ServingErrorCode.InvalidArgument, error.Code, error.Message);
        foreach (var part in messageParts)
        {
            StringAssert.Contains(error.Message, part);
        }

        return error;
    }

    private static JsonElement Output(JsonElement response, string name)
    {
        foreach (var output in response.GetProperty("outputs").EnumerateArray())
        {
            if (output.GetProperty("name").GetString() == name)
            {
                return output;
            }
        }

        Assert.Fail($"no output '{name}' in {response}");
        return default;
    }

    private static long[] Shape(JsonElement output) =>
        output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();

    private static float[] Floats(JsonElement output) =>
        output.GetProperty("data").EnumerateArray().Select(e => e.GetSingle()).ToArray();

    // ---- Linear / TwoInputs --------------------------------------------------------------------------------

    [TestMethod]
    public void Linear_ComputesTheExpectedValues()
    {
        var session = Open(DemoModels.Linear(), "linear", "1.2.0");
        try
        {
            float[] x = [0.5f, -1f, 2f, 0f, 1f, 1f, 1f, 1f, -3.25f, 0.125f, 10f, -7f];
            var json = $$"""{"id":"abc","inputs":[{"name":"x","datatype":"FP32","shape":[3,4],"data":[{{string.Join(",", x.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}}]}]}""";
            var response = Score(session, json);

            Assert.AreEqual("linear", response.GetProperty("model_name").GetString());
            Assert.AreEqual("1.2.0", response.GetProperty("model_version").GetString());
            Assert.AreEqual("abc", response.GetProperty("id").GetString());
            Assert.AreEqual(1, response.GetProperty("outputs").GetArrayLength());
            var y = Output(response, "y");
            Assert.AreEqual("FP32", y.GetProperty("datatype").GetString());
            CollectionAssert.AreEqual(new long[] { 3, 2 }, Shape(y));
            var expected = DemoModels.ComputeLinear(x);
            var actual = Floats(y);
            Assert.HasCount(expected.Length, actual);
            for (var i = 0; i < expected.Length; i++)
            {
                Assert.AreEqual(expected[i], actual[i], 1e-6f, $"y[{i}]");
            }
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void Response_WithoutId_HasNoIdProperty()
    {
        var session = Open(DemoModels.Linear());
        try
        {
            var response = Score(session, """{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}""");
            Assert.IsFalse(response.TryGetProperty("id", out _));
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void TwoInputs_AreMatchedByName_InAnyOrder()
    {
        var session = Open(DemoModels.TwoInputs());
        try
        {
            var response = Score(session, """
                {"inputs":[
                  {"name":"b","datatype":"FP32","shape":[3],"data":[4,-5,0.5]},
                  {"name":"a","datatype":"FP32","shape":[3],"data":[1,2,3]}
                ]}
                """);
            CollectionAssert.AreEqual(new[] { 5f, -3f, 3.5f }, Floats(Output(response, "sum")));
            CollectionAssert.AreEqual(new[] { 4f, -10f, 1.5f }, Floats(Output(response, "product")));
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void OutputsFilter_SelectsAndOrdersOutputs()
    {
        var session = Open(DemoModels.TwoInputs());
        try
        {
            const string inputs = """
                "inputs":[
                  {"name":"a","datatype":"FP32","shape":[2],"data":[1,2]},
                  {"name":"b","datatype":"FP32","shape":[2],"data":[3,4]}
                ]
                """;
            var onlyProduct = Score(session, "{" + inputs + ""","outputs":[{"name":"product"}]}""");
            var outputs = onlyProduct.GetProperty("outputs");
            Assert.AreEqual(1, outputs.GetArrayLength());
            Assert.AreEqual("product", outputs[0].GetProperty("name").GetString());
            CollectionAssert.AreEqual(new[] { 3f, 8f }, Floats(outputs[0]));

            var both = Score(session, "{" + inputs + ""","outputs":[{"name":"product"},{"name":"sum"}]}""").GetProperty("outputs");
            CollectionAssert.AreEqual(new[] { "product", "sum" }, both.EnumerateArray().Select(o => o.GetProperty("name").GetString()).ToArray());
            CollectionAssert.AreEqual(new[] { 4f, 6f }, Floats(both[1]));
        }
        finally
        {
            session.Release();
        }
    }

    // ---- Identity round trip for every datatype ------------------------------------------------------------

    [TestMethod]
    [DataRow(OnnxElementType.Float, "FP32", """[1.5,-0.1,3.4e38,1e-45,"NaN","Infinity","-Infinity",0]""")]
    [DataRow(OnnxElementType.Double, "FP64", """[0.1,-1e308,5e-324,1.0000000000000002,"NaN","Infinity","-Infinity",0]""")]
    [DataRow(OnnxElementType.Float16, "FP16", """[1.5,-2.25,65504,0.000061035156,0.099975586,"NaN","Infinity",0]""")]
    [DataRow(OnnxElementType.Int8, "INT8", "[-128,127,0,1,-1,5,6,7]")]
    [DataRow(OnnxElementType.Int16, "INT16", "[-32768,32767,0,1,-1,5,6,7]")]
    [DataRow(OnnxElementType.Int32, "INT32", "[-2147483648,2147483647,0,1,-1,5,6,7]")]
    [DataRow(OnnxElementType.Int64, "INT64", "[-9223372036854775808,9223372036854775807,9007199254740993,1,-1,5,6,7]")]
    [DataRow(OnnxElementType.Bool, "BOOL", "[true,false,true,true,false,false,true,false]")]
    [DataRow(OnnxElementType.String, "BYTES", """["a","","h\u00e9llo","\"quoted\"","back\\slash","<tag>&","\u65e5\u672c","emoji \ud83d\ude00"]""")]
    public void Identity_RoundTripsEveryDatatype(OnnxElementType type, string datatype, string data) =>
        RoundTrip(type, datatype, data);

    [TestMethod]
    [DataRow(OnnxElementType.UInt8, "UINT8", "[0,255,128,1,2,5,6,7]")]
    [DataRow(OnnxElementType.UInt16, "UINT16", "[0,65535,32768,1,2,5,6,7]")]
    [DataRow(OnnxElementType.UInt32, "UINT32", "[0,4294967295,2147483648,1,2,5,6,7]")]
    [DataRow(OnnxElementType.UInt64, "UINT64", "[0,18446744073709551615,9223372036854775808,1,2,5,6,7]")]
    public void Identity_RoundTripsUnsignedDatatypes(OnnxElementType type, string datatype, string data) =>
        RoundTrip(type, datatype, data);

    private static void RoundTrip(OnnxElementType type, string datatype, string data)
    {
        var session = Open(DemoModels.Identity("t", type, "batch", 4));
        try
        {
            var response = Score(session, $$"""{"inputs":[{"name":"t","datatype":"{{datatype}}","shape":[2,4],"data":{{data}}}]}""");
            var output = Output(response, "t_out");
            Assert.AreEqual(datatype, output.GetProperty("datatype").GetString());
            CollectionAssert.AreEqual(new long[] { 2, 4 }, Shape(output));
            using var expected = JsonDocument.Parse(data);
            CollectionAssert.AreEqual(
                Normalize(datatype, expected.RootElement),
                Normalize(datatype, output.GetProperty("data")),
                $"{datatype}: sent {data}, got {output.GetProperty("data")}");
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    [DataRow(OnnxElementType.Float, "FP32", "[2.5]")]
    [DataRow(OnnxElementType.Int64, "INT64", "[-42]")]
    [DataRow(OnnxElementType.Bool, "BOOL", "[true]")]
    [DataRow(OnnxElementType.String, "BYTES", "[\"one\"]")]
    public void Identity_RoundTripsAScalar(OnnxElementType type, string datatype, string data)
    {
        var session = Open(DemoModels.Identity("s", type));
        try
        {
            Assert.IsEmpty(session.Inputs[0].Shape);
            var response = Score(session, $$"""{"inputs":[{"name":"s","datatype":"{{datatype}}","shape":[],"data":{{data}}}]}""");
            var output = Output(response, "s_out");
            Assert.IsEmpty(Shape(output));
            using var expected = JsonDocument.Parse(data);
            CollectionAssert.AreEqual(Normalize(datatype, expected.RootElement), Normalize(datatype, output.GetProperty("data")));
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    [DataRow(OnnxElementType.Float, "FP32")]
    [DataRow(OnnxElementType.Int32, "INT32")]
    [DataRow(OnnxElementType.String, "BYTES")]
    public void Identity_RoundTripsAnEmptyTensor(OnnxElementType type, string datatype)
    {
        var session = Open(DemoModels.Identity("e", type, "n", 3));
        try
        {
            var response = Score(session, $$"""{"inputs":[{"name":"e","datatype":"{{datatype}}","shape":[0,3],"data":[]}]}""");
            var output = Output(response, "e_out");
            Assert.AreEqual(datatype, output.GetProperty("datatype").GetString());
            CollectionAssert.AreEqual(new long[] { 0, 3 }, Shape(output));
            Assert.AreEqual(0, output.GetProperty("data").GetArrayLength());
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void Fp32Output_UsesTheShortestFloatForm()
    {
        // 0.1f widened to double is 0.10000000149011612; the answer must say 0.1.
        var session = Open(DemoModels.Identity("t", OnnxElementType.Float, 1));
        try
        {
            var response = Score(session, """{"inputs":[{"name":"t","datatype":"FP32","shape":[1],"data":[0.1]}]}""");
            Assert.AreEqual("0.1", Output(response, "t_out").GetProperty("data")[0].GetRawText());
        }
        finally
        {
            session.Release();
        }
    }

    /// <summary>Canonical text of each element, so values compare by value in the datatype's own precision.</summary>
    private static string[] Normalize(string datatype, JsonElement data) =>
        data.EnumerateArray().Select(e => e.ValueKind switch
        {
            JsonValueKind.String when datatype is "FP32" or "FP64" or "FP16" => e.GetString() switch
            {
                "NaN" => "NaN",
                "Infinity" => "+inf",
                "-Infinity" => "-inf",
                var other => "bad string " + other,
            },
            JsonValueKind.String => "s:" + e.GetString(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Number => datatype switch
            {
                "FP32" => e.GetSingle().ToString("R", CultureInfo.InvariantCulture),
                "FP64" => e.GetDouble().ToString("R", CultureInfo.InvariantCulture),
                "FP16" => ((Half)e.GetDouble()).ToString(CultureInfo.InvariantCulture),
                _ => e.GetDecimal().ToString(CultureInfo.InvariantCulture),
            },
            _ => "unexpected " + e.ValueKind,
        }).ToArray();

    // ---- errors ------------------------------------------------------------------------------------------------

    [TestMethod]
    public void UnknownInputName_Is400NamingIt()
    {
        var session = Open(DemoModels.Linear(), "linear");
        try
        {
            var error = Reject(session, """{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]},{"name":"extra","datatype":"FP32","shape":[1],"data":[1]}]}""", "'extra'", "'linear'");
            StringAssert.Contains(error.Message, "x (FP32 [-1,4])", "the message lists the model's inputs");
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void MissingInput_Is400NamingIt()
    {
        var session = Open(DemoModels.TwoInputs());
        try
        {
            Reject(session, """{"inputs":[{"name":"a","datatype":"FP32","shape":[1],"data":[1]}]}""", "'b'", "missing");
            Reject(session, """{"inputs":[]}""", "'a'", "missing");
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void WrongDatatype_Is400NamingTheInputAndBothTypes()
    {
        var session = Open(DemoModels.Linear());
        try
        {
            Reject(session, """{"inputs":[{"name":"x","datatype":"FP64","shape":[1,4],"data":[1,2,3,4]}]}""", "'x'", "FP64", "FP32");
            Reject(session, """{"inputs":[{"name":"x","datatype":"INT32","shape":[1,4],"data":[1,2,3,4]}]}""", "'x'", "INT32", "FP32");
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void WrongRank_Is400NamingTheInput()
    {
        var session = Open(DemoModels.Linear());
        try
        {
            Reject(session, """{"inputs":[{"name":"x","datatype":"FP32","shape":[4],"data":[1,2,3,4]}]}""", "'x'", "rank 1", "rank 2");
            Reject(session, """{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1,4],"data":[1,2,3,4]}]}""", "'x'", "rank 3");
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void WrongFixedDimension_Is400NamingTheInputAndDimension()
    {
        var session = Open(DemoModels.Linear());
        try
        {
            Reject(session, """{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}""", "'x'", "dimension 1", "4");
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void SymbolicDimension_AcceptsAnySize()
    {
        var session = Open(DemoModels.Linear());
        try
        {
            var data = string.Join(",", Enumerable.Repeat("0", 7 * 4));
            var response = Score(session, $$"""{"inputs":[{"name":"x","datatype":"FP32","shape":[7,4],"data":[{{data}}]}]}""");
            CollectionAssert.AreEqual(new long[] { 7, 2 }, Shape(Output(response, "y")));
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void UnknownOutputInTheFilter_Is400NamingIt()
    {
        var session = Open(DemoModels.TwoInputs(), "two");
        try
        {
            var request = InferenceRequestParser.Parse(Encoding.UTF8.GetBytes("""{"inputs":[],"outputs":[{"name":"sum"},{"name":"quotient"}]}"""));
            var error = Assert.ThrowsExactly<ServingException>(() => TensorCodec.SelectOutputs(session, request));
            Assert.AreEqual(ServingErrorCode.InvalidArgument, error.Code);
            StringAssert.Contains(error.Message, "'quotient'");
            StringAssert.Contains(error.Message, "sum");
            StringAssert.Contains(error.Message, "product");
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void NoFilter_SelectsEveryOutput()
    {
        var session = Open(DemoModels.TwoInputs());
        try
        {
            var request = InferenceRequestParser.Parse(Encoding.UTF8.GetBytes("""{"inputs":[]}"""));
            CollectionAssert.AreEquivalent(new[] { "sum", "product" }, TensorCodec.SelectOutputs(session, request));
        }
        finally
        {
            session.Release();
        }
    }

    [TestMethod]
    public void SessionMetadata_DescribesInputsAndOutputs()
    {
        var session = Open(DemoModels.Linear());
        try
        {
            Assert.HasCount(1, session.Inputs);
            Assert.AreEqual("x", session.Inputs[0].Name);
            Assert.AreEqual("FP32", session.Inputs[0].Datatype);
            CollectionAssert.AreEqual(new long[] { -1, 4 }, session.Inputs[0].Shape);
            CollectionAssert.AreEqual(new[] { "y" }, session.OutputNames);
            CollectionAssert.AreEqual(new long[] { -1, 2 }, session.Outputs[0].Shape);
        }
        finally
        {
            session.Release();
        }
    }
}
