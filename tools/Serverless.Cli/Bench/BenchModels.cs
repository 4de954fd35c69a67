using System.Globalization;
using System.Text;
using Serverless.Core.Onnx;

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

    /// <summary>A batch-1 request for <see cref="OneMegabyte"/> (input x FP32 [1,512]).</summary>
    public static byte[] OneMegabyteRequest()
    {
        var json = new StringBuilder("""{"inputs":[{"name":"x","shape":[1,512],"datatype":"FP32","data":[""");
        for (var i = 0; i < ColdSide; i++)
        {
            json.Append(i == 0 ? "" : ",").Append(((i % 7) * 0.25).ToString(CultureInfo.InvariantCulture));
        }

        json.Append("]}]}");
        return Encoding.UTF8.GetBytes(json.ToString());
    }
}
