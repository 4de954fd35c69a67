using System.Text;
using Serverless.Scoring;
using Serverless.Core.Serving;

namespace Serverless.Scoring.Tests;

/// <summary>The parser's input limits: each answers 400 with a message that names the limit.</summary>
[TestClass]
public sealed class InferenceRequestLimitsTests
{
    private static InferenceRequest Parse(string json) => InferenceRequestParser.Parse(Encoding.UTF8.GetBytes(json));

    private static InferenceRequest Parse(byte[] json) => InferenceRequestParser.Parse(json);

    private static void Reject(string json, params string[] messageParts) => Reject(Encoding.UTF8.GetBytes(json), messageParts);

    private static void Reject(byte[] json, params string[] messageParts)
    {
        var error = Assert.ThrowsExactly<ServingException>(() => Parse(json));
        Assert.AreEqual(ServingErrorCode.InvalidArgument, error.Code, error.Message);
        foreach (var part in messageParts)
        {
            StringAssert.Contains(error.Message, part);
        }
    }

    private static string Input(string name, string datatype, string shape, string data) =>
        $$"""{"name":"{{name}}","datatype":"{{datatype}}","shape":{{shape}},"data":{{data}}}""";

    [TestMethod]
    public void RankAtTheLimit_IsAccepted()
    {
        var request = Parse($$"""{"inputs":[{{Input("x", "FP32", "[1,1,1,1,1,1,1,2]", "[1,2]")}}]}""");
        Assert.HasCount(InferenceRequestParser.MaxRank, request.Inputs[0].Shape);
    }

    [TestMethod]
    public void RankOverTheLimit_Is400_NamingTheInputAndTheLimit()
    {
        Reject($$"""{"inputs":[{{Input("x", "FP32", "[1,1,1,1,1,1,1,1,2]", "[1,2]")}}]}""", "'x'", "rank 9", "limit of 8 dimensions");
    }

    [TestMethod]
    public void AHugeShapeArray_IsCountedNotKept()
    {
        var shape = "[" + string.Join(',', Enumerable.Repeat("1", 100_000)) + "]";
        Reject($$"""{"inputs":[{{Input("x", "FP32", shape, "[1]")}}]}""", "rank 100000", "limit of 8 dimensions");
    }

    [TestMethod]
    public void RankLimit_IsCheckedWhatEverTheOrderOfProperties()
    {
        Reject("""{"inputs":[{"shape":[1,1,1,1,1,1,1,1,1,1],"data":[1],"datatype":"FP32","name":"late"}]}""", "'late'", "rank 10");
    }

    [TestMethod]
    public void StringAtTheLimit_IsAccepted()
    {
        var text = new string('a', InferenceRequestParser.MaxStringBytes);
        var request = Parse($$"""{"inputs":[{{Input("s", "BYTES", "[1]", $"[\"{text}\"]")}}]}""");
        Assert.AreEqual(text, ((string[])request.Inputs[0].Data)[0]);
    }

    [TestMethod]
    public void StringOverTheLimit_Is400_NamingTheElementAndTheLimit()
    {
        var text = new string('a', InferenceRequestParser.MaxStringBytes + 1);
        Reject($$"""{"inputs":[{{Input("s", "BYTES", "[2]", $"[\"ok\",\"{text}\"]")}}]}""", "'s'", "element 1", "65537 bytes", "limit of 65536 bytes");
    }

    [TestMethod]
    public void StringLimit_CountsUtf8BytesNotCharacters()
    {
        // 'é' is 2 UTF-8 bytes: 40,000 of them are 80,000 bytes though only 40,000 characters.
        var text = new string('é', 40_000);
        Reject($$"""{"inputs":[{{Input("s", "BYTES", "[1]", $"[\"{text}\"]")}}]}""", "80000 bytes", "limit of 65536 bytes");
    }

    [TestMethod]
    public void StringLimit_AppliesToTheUnescapedText()
    {
        // 30,000 escapes of 6 bytes each: 180,000 bytes of JSON, but only 30,000 bytes of text: accepted.
        var escaped = string.Concat(Enumerable.Repeat("\\u0041", 30_000));
        var request = Parse($$"""{"inputs":[{{Input("s", "BYTES", "[1]", $"[\"{escaped}\"]")}}]}""");
        Assert.AreEqual(new string('A', 30_000), ((string[])request.Inputs[0].Data)[0]);

        var tooLong = string.Concat(Enumerable.Repeat("\\u00e9", 40_000));
        Reject($$"""{"inputs":[{{Input("s", "BYTES", "[1]", $"[\"{tooLong}\"]")}}]}""", "80000 bytes");
    }

    [TestMethod]
    public void TenMegabyteString_Is400()
    {
        var text = new string('z', 10 * 1024 * 1024);
        Reject($$"""{"inputs":[{{Input("s", "BYTES", "[1]", $"[\"{text}\"]")}}]}""", "limit of 65536 bytes");
    }

    [TestMethod]
    public void InputsAtTheLimit_AreAccepted()
    {
        var inputs = string.Join(',', Enumerable.Range(0, InferenceRequestParser.MaxInputs).Select(i => Input($"x{i}", "FP32", "[1]", "[1]")));
        Assert.HasCount(InferenceRequestParser.MaxInputs, Parse($$"""{"inputs":[{{inputs}}]}""").Inputs);
    }

    [TestMethod]
    public void InputsOverTheLimit_Are400_NamingTheLimit()
    {
        var inputs = string.Join(',', Enumerable.Range(0, InferenceRequestParser.MaxInputs + 1).Select(i => Input($"x{i}", "FP32", "[1]", "[1]")));
        Reject($$"""{"inputs":[{{inputs}}]}""", "more than 64 inputs", "limit");
    }

    [TestMethod]
    public void ALongInputName_Is400_AndNotEchoedWhole()
    {
        var name = new string('n', 100_000);
        var error = Assert.ThrowsExactly<ServingException>(() => Parse($$"""{"inputs":[{{Input(name, "FP32", "[1]", "[1]")}}]}"""));
        Assert.AreEqual(ServingErrorCode.InvalidArgument, error.Code);
        StringAssert.Contains(error.Message, "limit of 1024 characters");
        Assert.IsLessThan(200, error.Message.Length, error.Message);
    }

    [TestMethod]
    public void ALongUnknownDatatype_IsNotEchoedWhole()
    {
        var datatype = new string('D', 100_000);
        var error = Assert.ThrowsExactly<ServingException>(() => Parse($$"""{"inputs":[{{Input("x", datatype, "[1]", "[1]")}}]}"""));
        Assert.AreEqual(ServingErrorCode.InvalidArgument, error.Code);
        Assert.IsLessThan(400, error.Message.Length, error.Message);
    }

    [TestMethod]
    public void ElementsOverTheLimit_Are400_BeforeAnyAllocation()
    {
        Reject($$"""{"inputs":[{{Input("x", "FP32", "[100000,100000]", "[1]")}}]}""", "'x'", "limit");
        Reject($$"""{"inputs":[{{Input("x", "FP32", "[9223372036854775807,9223372036854775807]", "[1]")}}]}""", "'x'", "limit");
    }

    [TestMethod]
    public void InvalidUtf8InAString_Is400_Not500()
    {
        var prefix = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"s","datatype":"BYTES","shape":[1],"data":[" """.TrimEnd());
        var suffix = Encoding.UTF8.GetBytes("\"]}]}");
        byte[] invalid = [0xC3, 0x28, 0xFF, 0xFE];
        Reject([.. prefix, .. invalid, .. suffix]);
        var badName = Encoding.UTF8.GetBytes("""{"inputs":[{"name":" """.TrimEnd());
        Reject([.. badName, .. invalid, .. Encoding.UTF8.GetBytes("\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}")]);
    }

    [TestMethod]
    [DataRow("[2,2]", "[[1,2],[3],[4]]", DisplayName = "ragged rows")]
    [DataRow("[1,4]", "[1,[2,[3,[4]]]]", DisplayName = "leaves at several depths")]
    [DataRow("[1,4]", "[[[[1,2,3,4]]]]", DisplayName = "deeper than the rank")]
    [DataRow("[2,2]", "[[1,2,3],[4]]", DisplayName = "row lengths not the dimension")]
    [DataRow("[4]", "[[1,2,3,4]]", DisplayName = "nested for rank 1")]
    [DataRow("[2,2,1]", "[[1,2],[3,4]]", DisplayName = "nested short of the rank")]
    public void NestedDataThatDoesNotFollowTheShape_Is400(string shape, string data)
    {
        Reject($$"""{"inputs":[{{Input("x", "FP32", shape, data)}}]}""", "'x'", "nested");
    }

    [TestMethod]
    [DataRow("[2,2]", "[[1,2],[3,4]]")]
    [DataRow("[2,2]", "[1,2,3,4]")]
    [DataRow("[2,0]", "[[],[]]")]
    [DataRow("[0,4]", "[]")]
    [DataRow("[]", "[7]")]
    [DataRow("[1,1,1,2]", "[[[[1,2]]]]")]
    public void FlatOrExactlyNestedData_IsAccepted(string shape, string data)
    {
        var request = Parse($$"""{"inputs":[{{Input("x", "FP32", shape, data)}}]}""");
        Assert.HasCount(1, request.Inputs);
    }
}
