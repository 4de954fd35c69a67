using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Onnx.Tests;

[TestClass]
public sealed class OnnxModelBoundsTests
{
    [TestMethod]
    public void OrdinaryModels_KeepEveryBound()
    {
        Assert.IsNull(OnnxModelBounds.Check(DemoModels.Linear()));
        Assert.IsNull(OnnxModelBounds.Check(DemoModels.TwoInputs()));
        Assert.IsNull(OnnxModelBounds.Check(DemoModels.ZipMapClassifier()));
        Assert.IsNull(OnnxModelBounds.Check(ConstantOfShape([2, 4])), "a small constant shape is fine");
    }

    [TestMethod]
    public void ConstantOfShape_WithAHugeConstantShape_IsRefused_NamingTheNode()
    {
        var violation = OnnxModelBounds.Check(ConstantOfShape([100_000, 100_000, 100]));

        Assert.IsNotNull(violation);
        StringAssert.Contains(violation, "ConstantOfShape");
        StringAssert.Contains(violation, "[100000,100000,100]");
    }

    [TestMethod]
    public void Expand_ToAHugeConstantShape_IsRefused()
    {
        var bytes = new OnnxModelBuilder("expand_bomb")
            .AddInput("x", OnnxElementType.Float, 1L)
            .AddOutput("y", OnnxElementType.Float, 1_000_000L, 1_000_000L)
            .AddInitializer("shape", [1_000_000L, 1_000_000L], 2)
            .AddNode("Expand", ["x", "shape"], ["y"])
            .ToBytes();

        StringAssert.Contains(OnnxModelBounds.Check(bytes), "Expand");
    }

    [TestMethod]
    public void Initializer_DeclaringMoreElementsThanAllowed_IsRefused_NamingTheTensor()
    {
        var bytes = new OnnxModelBuilder("declared_bomb")
            .AddInput("x", OnnxElementType.Float, 1L)
            .AddOutput("y", OnnxElementType.Float, 1L)
            .AddMalformedInitializer("W", OnnxElementType.Float, [1_000_000, 1_000_000], [0, 0, 0, 0])
            .AddNode("Identity", ["x"], ["y"])
            .ToBytes();

        var violation = OnnxModelBounds.Check(bytes);

        StringAssert.Contains(violation, "tensor 'W'");
        StringAssert.Contains(violation, "[1000000,1000000]");
    }

    [TestMethod]
    public void TooManyNodes_AreRefused()
    {
        var builder = new OnnxModelBuilder("deep")
            .AddInput("x", OnnxElementType.Float, 1L)
            .AddOutput("y", OnnxElementType.Float, 1L);
        var previous = "x";
        for (var i = 0; i < OnnxModelBounds.MaxNodes; i++)
        {
            builder.AddNode("Identity", [previous], [$"t{i}"]);
            previous = $"t{i}";
        }

        builder.AddNode("Identity", [previous], ["y"]);

        StringAssert.Contains(OnnxModelBounds.Check(builder.ToBytes()), "more than 100,000 nodes");
    }

    [TestMethod]
    public void NotProtobuf_IsLeftToOnnxRuntime()
    {
        Assert.IsNull(OnnxModelBounds.Check([0xFF, 0xFF, 0xFF]));
        Assert.IsNull(OnnxModelBounds.Check([]));
    }

    /// <summary>y = x + ConstantOfShape(shape): ORT folds the constant when the session is created.</summary>
    internal static byte[] ConstantOfShape(long[] shape) =>
        new OnnxModelBuilder("constant_of_shape")
            .AddInput("x", OnnxElementType.Float, 1L)
            .AddOutput("y", OnnxElementType.Float, shape.Select(d => (object)d).ToArray())
            .AddInitializer("shape", shape, shape.Length)
            .AddNode("ConstantOfShape", ["shape"], ["zeros"])
            .AddNode("Add", ["x", "zeros"], ["y"])
            .ToBytes();
}
