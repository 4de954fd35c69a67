using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Onnx.Tests;

[TestClass]
public sealed class OnnxModelBuilderTests
{
    [TestMethod]
    public void ProtobufWriter_EncodesVarintsAsTheSpecSays()
    {
        var writer = new ProtobufWriter();
        writer.WriteInt64(1, 300);
        writer.WriteInt64(2, -1);
        writer.WriteString(3, "hi");

        byte[] expected =
        [
            0x08, 0xAC, 0x02,                                                       // field 1 varint 300
            0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,       // field 2 varint -1
            0x1A, 0x02, (byte)'h', (byte)'i',                                       // field 3 "hi"
        ];
        CollectionAssert.AreEqual(expected, writer.ToArray());
    }

    [TestMethod]
    public void ElementTypes_MatchOnnxRuntime()
    {
        foreach (OnnxElementType type in Enum.GetValues<OnnxElementType>())
        {
            var ort = Enum.Parse<TensorElementType>(type.ToString(), ignoreCase: true);
            Assert.AreEqual((int)ort, (int)type, type.ToString());
        }
    }

    [TestMethod]
    public void Linear_HasExpectedMetadata()
    {
        using var session = new InferenceSession(DemoModels.Linear());

        Assert.AreEqual(1, session.InputMetadata.Count);
        NodeMetadata x = session.InputMetadata["x"];
        Assert.AreEqual(TensorElementType.Float, x.ElementDataType);
        CollectionAssert.AreEqual(new[] { -1, 4 }, x.Dimensions);
        Assert.AreEqual("batch", x.SymbolicDimensions[0]);

        Assert.AreEqual(1, session.OutputMetadata.Count);
        NodeMetadata y = session.OutputMetadata["y"];
        Assert.AreEqual(TensorElementType.Float, y.ElementDataType);
        CollectionAssert.AreEqual(new[] { -1, 2 }, y.Dimensions);
        Assert.AreEqual("batch", y.SymbolicDimensions[0]);
    }

    [TestMethod]
    public void Linear_ComputesSigmoidOfAffineMap()
    {
        using var session = new InferenceSession(DemoModels.Linear());
        float[] x = [1f, 2f, 3f, 4f, -1f, 0.5f, 0f, 2.5f, 0f, 0f, 0f, 0f];

        using var input = OrtValue.CreateTensorValueFromMemory(x, [3, 4]);
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, ["x"], [input], ["y"]);

        OrtValue y = results[0];
        CollectionAssert.AreEqual(new long[] { 3, 2 }, y.GetTensorTypeAndShape().Shape);
        float[] actual = y.GetTensorDataAsSpan<float>().ToArray();

        float[] expected = ExpectedLinear(x);
        Assert.AreEqual(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.AreEqual(expected[i], actual[i], 1e-6, $"element {i}");
        }

        // The library's own reference agrees with the independent one above.
        float[] reference = DemoModels.ComputeLinear(x);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.AreEqual(expected[i], reference[i], 1e-6, $"reference element {i}");
        }
    }

    [TestMethod]
    public void Identity_Float() => AssertIdentityRoundTrip(OnnxElementType.Float, TensorElementType.Float, [1.5f, -2f, 0f, 3.25f, float.MaxValue, float.Epsilon]);

    [TestMethod]
    public void Identity_Int64() => AssertIdentityRoundTrip(OnnxElementType.Int64, TensorElementType.Int64, [long.MinValue, -1L, 0L, 1L, 42L, long.MaxValue]);

    [TestMethod]
    public void Identity_Bool() => AssertIdentityRoundTrip(OnnxElementType.Bool, TensorElementType.Bool, [true, false, false, true, true, false]);

    [TestMethod]
    public void Identity_Double() => AssertIdentityRoundTrip(OnnxElementType.Double, TensorElementType.Double, [Math.PI, -Math.E, 0d, 1e300, -1e-300, 7d]);

    [TestMethod]
    public void Identity_UInt8() => AssertIdentityRoundTrip(OnnxElementType.UInt8, TensorElementType.UInt8, new byte[] { 0, 1, 127, 128, 254, 255 });

    [TestMethod]
    public void Identity_String()
    {
        using var session = new InferenceSession(DemoModels.Identity("s", OnnxElementType.String, "batch", 3));
        NodeMetadata meta = session.InputMetadata["s"];
        Assert.AreEqual(TensorElementType.String, meta.ElementDataType);
        Assert.IsTrue(meta.IsString);
        CollectionAssert.AreEqual(new[] { -1, 3 }, meta.Dimensions);
        Assert.AreEqual(TensorElementType.String, session.OutputMetadata["s_out"].ElementDataType);

        string[] data = ["hello", "", "wörld ✓", "a", "b", "c"];
        using var input = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, [2, 3]);
        for (int i = 0; i < data.Length; i++)
        {
            input.StringTensorSetElementAt(data[i].AsSpan(), i);
        }

        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, ["s"], [input], ["s_out"]);

        CollectionAssert.AreEqual(new long[] { 2, 3 }, results[0].GetTensorTypeAndShape().Shape);
        CollectionAssert.AreEqual(data, results[0].GetStringTensorAsArray());
    }

    [TestMethod]
    public void Identity_ScalarHasRankZero()
    {
        using var session = new InferenceSession(DemoModels.Identity("s", OnnxElementType.Float));
        Assert.AreEqual(0, session.InputMetadata["s"].Dimensions.Length);
        Assert.AreEqual(0, session.OutputMetadata["s_out"].Dimensions.Length);

        using var input = OrtValue.CreateTensorValueFromMemory(new[] { 2.5f }, []);
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, ["s"], [input], ["s_out"]);
        Assert.AreEqual(0, results[0].GetTensorTypeAndShape().Shape.Length);
        Assert.AreEqual(2.5f, results[0].GetTensorDataAsSpan<float>()[0]);
    }

    [TestMethod]
    public void TwoInputs_AddsAndMultiplies()
    {
        using var session = new InferenceSession(DemoModels.TwoInputs());
        CollectionAssert.AreEquivalent(new[] { "a", "b" }, session.InputMetadata.Keys.ToArray());
        CollectionAssert.AreEqual(new[] { "sum", "product" }, session.OutputNames.ToArray());
        foreach (NodeMetadata meta in session.InputMetadata.Values.Concat(session.OutputMetadata.Values))
        {
            Assert.AreEqual(TensorElementType.Float, meta.ElementDataType);
            CollectionAssert.AreEqual(new[] { -1 }, meta.Dimensions);
            Assert.AreEqual("n", meta.SymbolicDimensions[0]);
        }

        using var a = OrtValue.CreateTensorValueFromMemory(new[] { 1f, 2f, 3f }, [3]);
        using var b = OrtValue.CreateTensorValueFromMemory(new[] { 4f, -5f, 0.5f }, [3]);
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, ["a", "b"], [a, b], ["sum", "product"]);

        CollectionAssert.AreEqual(new[] { 5f, -3f, 3.5f }, results[0].GetTensorDataAsSpan<float>().ToArray());
        CollectionAssert.AreEqual(new[] { 4f, -10f, 1.5f }, results[1].GetTensorDataAsSpan<float>().ToArray());
    }

    [TestMethod]
    public void UnknownOperator_IsRejectedBySessionCreation()
    {
        byte[] model = DemoModels.UnknownOperator();
        OnnxRuntimeException error = Assert.ThrowsExactly<OnnxRuntimeException>(() => new InferenceSession(model).Dispose());
        StringAssert.Contains(error.Message, "NoSuchOperator");
    }

    [TestMethod]
    public void Initializers_OfEveryConvenienceTypeRoundTrip()
    {
        byte[] model = new OnnxModelBuilder()
            .AddInitializer("f", new[] { 1.5f, -2f, 3f, 4f }, 2, 2)
            .AddInitializer("d", new[] { Math.PI }, 1)
            .AddInitializer("l3", new[] { long.MinValue, long.MaxValue, 7L }, 3)
            .AddInitializer("i", new[] { int.MinValue, -1, int.MaxValue }, 3)
            .AddInitializer("raw", OnnxElementType.Bool, [2], new byte[] { 1, 0 })
            .AddStringInitializer("s", ["x", "", "ü"], 3)
            .AddNode("Identity", ["f"], ["f_out"])
            .AddNode("Identity", ["d"], ["d_out"])
            .AddNode("Identity", ["l3"], ["l_out"])
            .AddNode("Identity", ["i"], ["i_out"])
            .AddNode("Identity", ["raw"], ["raw_out"])
            .AddNode("Identity", ["s"], ["s_out"])
            .AddOutput("f_out", OnnxElementType.Float, 2, 2)
            .AddOutput("d_out", OnnxElementType.Double, 1)
            .AddOutput("l_out", OnnxElementType.Int64, 3)
            .AddOutput("i_out", OnnxElementType.Int32, 3)
            .AddOutput("raw_out", OnnxElementType.Bool, 2)
            .AddOutput("s_out", OnnxElementType.String, 3)
            .ToBytes();

        using var session = new InferenceSession(model);
        using var runOptions = new RunOptions();
        string[] names = ["f_out", "d_out", "l_out", "i_out", "raw_out", "s_out"];
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, [], [], names);

        CollectionAssert.AreEqual(new[] { 1.5f, -2f, 3f, 4f }, results[0].GetTensorDataAsSpan<float>().ToArray());
        CollectionAssert.AreEqual(new long[] { 2, 2 }, results[0].GetTensorTypeAndShape().Shape);
        CollectionAssert.AreEqual(new[] { Math.PI }, results[1].GetTensorDataAsSpan<double>().ToArray());
        CollectionAssert.AreEqual(new[] { long.MinValue, long.MaxValue, 7L }, results[2].GetTensorDataAsSpan<long>().ToArray());
        CollectionAssert.AreEqual(new[] { int.MinValue, -1, int.MaxValue }, results[3].GetTensorDataAsSpan<int>().ToArray());
        CollectionAssert.AreEqual(new[] { true, false }, results[4].GetTensorDataAsSpan<bool>().ToArray());
        CollectionAssert.AreEqual(new[] { "x", "", "ü" }, results[5].GetStringTensorAsArray());
    }

    [TestMethod]
    public void Attributes_OfEveryKindReachTheOperator()
    {
        // Constant takes exactly one value attribute, so one node per attribute kind.
        byte[] model = new OnnxModelBuilder()
            .AddNode("Constant", [], ["f"], null, OnnxAttribute.Float("value_float", -1.25f))
            .AddNode("Constant", [], ["i"], null, OnnxAttribute.Int("value_int", -7))
            .AddNode("Constant", [], ["s"], null, OnnxAttribute.String("value_string", "ünïcode"))
            .AddNode("Constant", [], ["fs"], null, OnnxAttribute.Floats("value_floats", 1f, 2.5f, -3f))
            .AddNode("Constant", [], ["is"], null, OnnxAttribute.Ints("value_ints", -1, 0, long.MaxValue))
            .AddNode("Constant", [], ["perm_in"], null, OnnxAttribute.Floats("value_floats", 1f, 2f, 3f, 4f, 5f, 6f))
            .AddNode("Reshape", ["perm_in", "shape"], ["m"])
            .AddNode("Transpose", ["m"], ["t"], null, OnnxAttribute.Ints("perm", 1, 0))
            .AddInitializer("shape", new[] { 2L, 3L }, 2)
            .AddOutput("f", OnnxElementType.Float)
            .AddOutput("i", OnnxElementType.Int64)
            .AddOutput("s", OnnxElementType.String)
            .AddOutput("fs", OnnxElementType.Float, 3)
            .AddOutput("is", OnnxElementType.Int64, 3)
            .AddOutput("t", OnnxElementType.Float, 3, 2)
            .ToBytes();

        using var session = new InferenceSession(model);
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, [], [], ["f", "i", "s", "fs", "is", "t"]);

        Assert.AreEqual(-1.25f, results[0].GetTensorDataAsSpan<float>()[0]);
        Assert.AreEqual(-7L, results[1].GetTensorDataAsSpan<long>()[0]);
        Assert.AreEqual("ünïcode", results[2].GetStringElement(0));
        CollectionAssert.AreEqual(new[] { 1f, 2.5f, -3f }, results[3].GetTensorDataAsSpan<float>().ToArray());
        CollectionAssert.AreEqual(new[] { -1L, 0L, long.MaxValue }, results[4].GetTensorDataAsSpan<long>().ToArray());
        CollectionAssert.AreEqual(new[] { 1f, 4f, 2f, 5f, 3f, 6f }, results[5].GetTensorDataAsSpan<float>().ToArray());
    }

    [TestMethod]
    public void ExtraOpset_IsImported()
    {
        // ai.onnx.ml's Binarizer only resolves when that domain is imported.
        byte[] model = new OnnxModelBuilder()
            .AddOpset("ai.onnx.ml", 3)
            .AddInput("x", OnnxElementType.Float, "n")
            .AddOutput("y", OnnxElementType.Float, "n")
            .AddNode("Binarizer", ["x"], ["y"], "ai.onnx.ml", OnnxAttribute.Float("threshold", 0.5f))
            .ToBytes();

        using var session = new InferenceSession(model);
        using var x = OrtValue.CreateTensorValueFromMemory(new[] { 0.2f, 0.7f, 0.5f }, [3]);
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, ["x"], [x], ["y"]);
        CollectionAssert.AreEqual(new[] { 0f, 1f, 0f }, results[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [TestMethod]
    public void InvalidArguments_AreRejectedWhereTheyAreMade()
    {
        var builder = new OnnxModelBuilder();
        Assert.ThrowsExactly<ArgumentException>(() => builder.AddInput("x", OnnxElementType.Float, 2.0));
        Assert.ThrowsExactly<ArgumentException>(() => builder.AddInput("x", OnnxElementType.Float, -1));
        Assert.ThrowsExactly<ArgumentException>(() => builder.AddInput("x", OnnxElementType.Float, ""));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => builder.AddInput("x", (OnnxElementType)99, 1));
        Assert.ThrowsExactly<ArgumentException>(() => builder.AddInitializer("w", new[] { 1f, 2f, 3f }, 2, 2));
        Assert.ThrowsExactly<ArgumentException>(() => builder.AddInitializer("w", OnnxElementType.String, [1], new byte[] { 1 }));
        Assert.ThrowsExactly<ArgumentException>(() => builder.AddStringInitializer("s", ["a"], 2));
    }

    private static void AssertIdentityRoundTrip<T>(OnnxElementType type, TensorElementType ortType, T[] data)
        where T : unmanaged
    {
        using var session = new InferenceSession(DemoModels.Identity("v", type, "batch", 3));
        NodeMetadata input = session.InputMetadata["v"];
        NodeMetadata output = session.OutputMetadata["v_out"];
        Assert.AreEqual(ortType, input.ElementDataType);
        Assert.AreEqual(ortType, output.ElementDataType);
        Assert.AreEqual(typeof(T), input.ElementType);
        CollectionAssert.AreEqual(new[] { -1, 3 }, input.Dimensions);
        CollectionAssert.AreEqual(new[] { "batch", "" }, input.SymbolicDimensions);
        CollectionAssert.AreEqual(new[] { -1, 3 }, output.Dimensions);

        using var value = OrtValue.CreateTensorValueFromMemory(data, [data.Length / 3, 3]);
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, ["v"], [value], ["v_out"]);

        Assert.AreEqual(ortType, results[0].GetTensorTypeAndShape().ElementDataType);
        CollectionAssert.AreEqual(new long[] { data.Length / 3, 3 }, results[0].GetTensorTypeAndShape().Shape);
        CollectionAssert.AreEqual(data, results[0].GetTensorDataAsSpan<T>().ToArray());
    }

    private static float[] ExpectedLinear(float[] x)
    {
        // Independent of DemoModels.ComputeLinear: double precision from the literal weights.
        double[,] w = { { 0.1, 0.2 }, { 0.3, 0.4 }, { 0.5, 0.6 }, { 0.7, 0.8 } };
        double[] b = [0.5, -0.5];
        int batch = x.Length / 4;
        var y = new float[batch * 2];
        for (int row = 0; row < batch; row++)
        {
            for (int col = 0; col < 2; col++)
            {
                double z = b[col];
                for (int k = 0; k < 4; k++)
                {
                    z += x[(row * 4) + k] * w[k, col];
                }

                y[(row * 2) + col] = (float)(1 / (1 + Math.Exp(-z)));
            }
        }

        return y;
    }
}
