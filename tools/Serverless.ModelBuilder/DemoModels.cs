using Serverless.Onnx;

namespace Serverless.ModelBuilder;

/// <summary>Small ready-made models for tests and demos (all opset 17, IR 8).</summary>
public static class DemoModels
{
    /// <summary>
    /// The weights of <see cref="Linear"/>: shape [4, 2], row-major.
    /// </summary>
    public static ReadOnlySpan<float> LinearWeights => [0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f];

    /// <summary>The bias of <see cref="Linear"/>: shape [2].</summary>
    public static ReadOnlySpan<float> LinearBias => [0.5f, -0.5f];

    /// <summary>
    /// <c>y = Sigmoid(x · W + b)</c>: input <c>x</c> FLOAT ["batch", 4], output <c>y</c> FLOAT ["batch", 2],
    /// with <see cref="LinearWeights"/> and <see cref="LinearBias"/>.
    /// </summary>
    public static byte[] Linear() =>
        new OnnxModelBuilder("linear")
            .AddInput("x", OnnxElementType.Float, "batch", 4L)
            .AddOutput("y", OnnxElementType.Float, "batch", 2L)
            .AddInitializer("W", LinearWeights.ToArray(), 4, 2)
            .AddInitializer("b", LinearBias.ToArray(), 2)
            .AddNode("MatMul", ["x", "W"], ["xw"])
            .AddNode("Add", ["xw", "b"], ["logits"])
            .AddNode("Sigmoid", ["logits"], ["y"])
            .ToBytes();

    /// <summary>
    /// What <see cref="Linear"/> computes, in single precision like ONNX Runtime, for a row-major
    /// [batch, 4] input; returns [batch, 2] row-major.
    /// </summary>
    public static float[] ComputeLinear(ReadOnlySpan<float> x)
    {
        if (x.Length % 4 != 0)
        {
            throw new ArgumentException("The input length must be a multiple of 4.", nameof(x));
        }

        int batch = x.Length / 4;
        var y = new float[batch * 2];
        for (int row = 0; row < batch; row++)
        {
            for (int col = 0; col < 2; col++)
            {
                float sum = 0;
                for (int k = 0; k < 4; k++)
                {
                    sum += x[(row * 4) + k] * LinearWeights[(k * 2) + col];
                }

                float logit = sum + LinearBias[col];
                y[(row * 2) + col] = 1f / (1f + MathF.Exp(-logit));
            }
        }

        return y;
    }

    /// <summary>
    /// An Identity model: input <paramref name="name"/>, output <c>name + "_out"</c>, both of
    /// <paramref name="type"/> and shape <paramref name="dims"/> (ints/longs fixed, strings symbolic).
    /// </summary>
    public static byte[] Identity(string name, OnnxElementType type, params object[] dims) =>
        new OnnxModelBuilder("identity")
            .AddInput(name, type, dims)
            .AddOutput(name + "_out", type, dims)
            .AddNode("Identity", [name], [name + "_out"])
            .ToBytes();

    /// <summary>Inputs <c>a</c>, <c>b</c> FLOAT ["n"]; outputs <c>sum</c> = a + b and <c>product</c> = a * b.</summary>
    public static byte[] TwoInputs() =>
        new OnnxModelBuilder("two_inputs")
            .AddInput("a", OnnxElementType.Float, "n")
            .AddInput("b", OnnxElementType.Float, "n")
            .AddOutput("sum", OnnxElementType.Float, "n")
            .AddOutput("product", OnnxElementType.Float, "n")
            .AddNode("Add", ["a", "b"], ["sum"])
            .AddNode("Mul", ["a", "b"], ["product"])
            .ToBytes();

    /// <summary>
    /// A well-formed model whose only node uses the operator <c>NoSuchOperator</c>, which no runtime
    /// implements: creating a session for it must fail.
    /// </summary>
    public static byte[] UnknownOperator() =>
        new OnnxModelBuilder("unknown_operator")
            .AddInput("x", OnnxElementType.Float, "n")
            .AddOutput("y", OnnxElementType.Float, "n")
            .AddNode("NoSuchOperator", ["x"], ["y"])
            .ToBytes();

    /// <summary>
    /// A classifier shaped like scikit-learn's after skl2onnx: input <c>X</c> FP32 [batch, 3]; outputs
    /// <c>label</c> INT64 [batch] (ArgMax of Softmax(X·W)) and <c>probabilities</c>, a sequence of maps
    /// from class label to probability made by <c>ZipMap</c>. With <paramref name="stringLabels"/> the
    /// classes are "cat", "dog", "fish" and the map keys are strings.
    /// </summary>
    public static byte[] ZipMapClassifier(bool stringLabels = false)
    {
        var builder = new OnnxModelBuilder("zipmap_classifier")
            .AddOpset("ai.onnx.ml", 1)
            .AddInput("X", OnnxElementType.Float, "batch", 3)
            .AddInitializer("W", new float[] { 1f, 0f, 0f, 0f, 1f, 0f, 0f, 0f, 1f }, 3, 3)
            .AddNode("MatMul", ["X", "W"], ["scores"])
            .AddNode("Softmax", ["scores"], ["probs"], null, OnnxAttribute.Int("axis", 1))
            .AddNode("ArgMax", ["probs"], ["label"], null, OnnxAttribute.Int("axis", 1), OnnxAttribute.Int("keepdims", 0))
            .AddOutput("label", OnnxElementType.Int64, "batch");
        if (stringLabels)
        {
            builder.AddNode("ZipMap", ["probs"], ["probabilities"], "ai.onnx.ml", OnnxAttribute.Strings("classlabels_strings", "cat", "dog", "fish"))
                .AddSequenceOfMapsOutput("probabilities", OnnxElementType.String, OnnxElementType.Float);
        }
        else
        {
            builder.AddNode("ZipMap", ["probs"], ["probabilities"], "ai.onnx.ml", OnnxAttribute.Ints("classlabels_int64s", 0, 1, 2))
                .AddSequenceOfMapsOutput("probabilities", OnnxElementType.Int64, OnnxElementType.Float);
        }

        return builder.ToBytes();
    }

    /// <summary>A model whose weight is stored as external data in <c>weights.bin</c> (not shipped).</summary>
    public static byte[] ExternalData() =>
        new OnnxModelBuilder("external_data")
            .AddInput("x", OnnxElementType.Float, "batch", 4)
            .AddExternalInitializer("W", OnnxElementType.Float, [4, 2], "weights.bin")
            .AddNode("MatMul", ["x", "W"], ["y"])
            .AddOutput("y", OnnxElementType.Float, "batch", 2)
            .ToBytes();

    /// <summary>
    /// A model whose output size comes from its input: <c>shape</c> INT64 [2] → <c>ConstantOfShape</c> → <c>y</c> FLOAT
    /// [rows, columns] of zeros. Asked for [65536, 65536] it would answer 16 GiB.
    /// </summary>
    public static byte[] OutputSizedByInput() =>
        new OnnxModelBuilder("output_sized_by_input")
            .AddInput("shape", OnnxElementType.Int64, 2)
            .AddOutput("y", OnnxElementType.Float, "rows", "columns")
            .AddNode("ConstantOfShape", ["shape"], ["y"])
            .ToBytes();

    /// <summary>
    /// A slow model: <c>x</c> FLOAT [1,1] expanded to n×n, then <paramref name="products"/> chained n×n MatMuls, summed
    /// to <c>y</c> [1,1]. ONNX Runtime checks a run's terminate flag between nodes, so many products make it stoppable.
    /// </summary>
    public static byte[] Slow(int n, int products)
    {
        var builder = new OnnxModelBuilder("slow")
            .AddInput("x", OnnxElementType.Float, 1L, 1L)
            .AddOutput("y", OnnxElementType.Float, 1L, 1L)
            .AddInitializer("size", new long[] { n, n }, 2)
            .AddNode("Expand", ["x", "size"], ["m0"]);
        for (var i = 1; i <= products; i++)
        {
            builder.AddNode("MatMul", [$"m{i - 1}", "m0"], [$"m{i}"]);
        }

        return builder.AddNode("ReduceSum", [$"m{products}"], ["y"]).ToBytes();
    }
}
