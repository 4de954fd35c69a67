using System.Globalization;
using System.Text;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Bench;

/// <summary>The models and pre-encoded request bodies the bench uses.</summary>
internal static class BenchModels
{
    /// <summary>The demo model's name, as <c>up</c> publishes it.</summary>
    public const string DemoModel = "demo-linear";

    /// <summary>Side of the cold scenario's square weight: 512 × 512 floats = 1 MiB.</summary>
    public const int ColdSide = 512;

    /// <summary>A batch-1 request for the demo model (input x FP32 [1,4]).</summary>
    public static readonly byte[] LinearRequest = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""");

    /// <summary>The demo model's answer to <see cref="LinearRequest"/>: what the canned endpoint returns.</summary>
    public static readonly byte[] LinearAnswer = Encoding.UTF8.GetBytes("""{"model_name":"demo-linear","model_version":"1","outputs":[{"name":"y","datatype":"FP32","shape":[1,2],"data":[0.99592984,0.99592984]}]}""");

    /// <summary>
    /// Tiny model number <paramref name="index"/>: the demo model's graph with its own bias (so every file
    /// differs), a few hundred bytes; same input and output as the demo model.
    /// </summary>
    public static byte[] Tiny(int index)
    {
        var shift = (index % 1000) / 1000f;
        return new OnnxModelBuilder("tiny")
            .AddInput("x", OnnxElementType.Float, "batch", 4L)
            .AddOutput("y", OnnxElementType.Float, "batch", 2L)
            .AddInitializer("W", DemoModels.LinearWeights.ToArray(), 4, 2)
            .AddInitializer("b", [0.5f + shift, -0.5f - shift], 2)
            .AddNode("MatMul", ["x", "W"], ["xw"])
            .AddNode("Add", ["xw", "b"], ["logits"])
            .AddNode("Sigmoid", ["logits"], ["y"])
            .ToBytes();
    }

    /// <summary>
    /// A tiny model whose bytes differ for every index (its bias holds the index), for a fleet of distinct models: no two
    /// share a SHA-256, so none is loaded from another's copy in a shard's disk tier.
    /// </summary>
    public static byte[] Distinct(int index)
    {
        // Steps of 2^-24 above 0.5 are each a distinct float (0.5's spacing is 2^-24): distinct up to 8 million models.
        var bias = index / 16_777_216f;
        return new OnnxModelBuilder("tiny")
            .AddInput("x", OnnxElementType.Float, "batch", 4L)
            .AddOutput("y", OnnxElementType.Float, "batch", 2L)
            .AddInitializer("W", DemoModels.LinearWeights.ToArray(), 4, 2)
            .AddInitializer("b", [0.5f + bias, -0.5f], 2)
            .AddNode("MatMul", ["x", "W"], ["xw"])
            .AddNode("Add", ["xw", "b"], ["logits"])
            .AddNode("Sigmoid", ["logits"], ["y"])
            .ToBytes();
    }

    /// <summary>A ~1 MiB model: <c>y = x · W</c> with W FP32 [512, 512] (seeded by <paramref name="index"/>).</summary>
    public static byte[] OneMegabyte(int index)
    {
        var random = new Random(index);
        var weights = new float[ColdSide * ColdSide];
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)(random.NextDouble() - 0.5) / ColdSide;
        }

        return new OnnxModelBuilder("one_megabyte")
            .AddInput("x", OnnxElementType.Float, "batch", (long)ColdSide)
            .AddOutput("y", OnnxElementType.Float, "batch", (long)ColdSide)
            .AddInitializer("W", weights, ColdSide, ColdSide)
            .AddNode("MatMul", ["x", "W"], ["y"])
            .ToBytes();
    }

    /// <summary>Width of the batching scenario's MLP input and output.</summary>
    public const int MlpWidth = 256;

    /// <summary>Width of the batching scenario's MLP hidden layer.</summary>
    public const int MlpHidden = 4096;

    /// <summary>
    /// A ~8 MiB MLP: <c>y = relu(x · W1 + b1) · W2</c>, W1 FP32 [256, 4096], W2 [4096, 256], with a free
    /// batch dimension, so dynamic batching can stack requests. At batch 1 each run streams all the
    /// weights for one row; batched, it streams them once for many.
    /// </summary>
    public static byte[] Mlp(int seed)
    {
        var random = new Random(seed);
        var w1 = new float[MlpWidth * MlpHidden];
        var w2 = new float[MlpHidden * MlpWidth];
        var b1 = new float[MlpHidden];
        for (var i = 0; i < w1.Length; i++)
        {
            w1[i] = (float)(random.NextDouble() - 0.5) / MlpWidth;
            w2[i] = (float)(random.NextDouble() - 0.5) / MlpHidden;
        }

        for (var i = 0; i < b1.Length; i++)
        {
            b1[i] = (float)(random.NextDouble() - 0.5) / 10;
        }

        return new OnnxModelBuilder("mlp")
            .AddInput("x", OnnxElementType.Float, "batch", (long)MlpWidth)
            .AddOutput("y", OnnxElementType.Float, "batch", (long)MlpWidth)
            .AddInitializer("W1", w1, MlpWidth, MlpHidden)
            .AddInitializer("b1", b1, MlpHidden)
            .AddInitializer("W2", w2, MlpHidden, MlpWidth)
            .AddNode("MatMul", ["x", "W1"], ["h0"])
            .AddNode("Add", ["h0", "b1"], ["h1"])
            .AddNode("Relu", ["h1"], ["h"])
            .AddNode("MatMul", ["h", "W2"], ["y"])
            .ToBytes();
    }

    /// <summary>A batch-1 request for <see cref="Mlp"/> (input x FP32 [1,256]).</summary>
    public static byte[] MlpRequest() => RowRequest(MlpWidth);

    /// <summary>A batch-1 request for <see cref="OneMegabyte"/> (input x FP32 [1,512]).</summary>
    public static byte[] OneMegabyteRequest() => RowRequest(ColdSide);

    private static byte[] RowRequest(int width)
    {
        var json = new StringBuilder("""{"inputs":[{"name":"x","shape":[1,""").Append(width.ToString(CultureInfo.InvariantCulture)).Append("""],"datatype":"FP32","data":[""");
        for (var i = 0; i < width; i++)
        {
            json.Append(i == 0 ? "" : ",").Append(((i % 7) * 0.25).ToString(CultureInfo.InvariantCulture));
        }

        json.Append("]}]}");
        return Encoding.UTF8.GetBytes(json.ToString());
    }
}
