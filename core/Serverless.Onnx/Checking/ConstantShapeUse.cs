namespace Serverless.Onnx;

/// <summary>
/// A <c>ConstantOfShape</c> or <c>Expand</c> node whose shape input is checked once its graph is read: the
/// initializer or <c>Constant</c> node that holds the shape may come after the node in the file.
/// </summary>
/// <param name="OpType">The node's operator.</param>
/// <param name="Shape">The name of its shape input.</param>
/// <param name="Output">The name of its first output, to name the node.</param>
internal readonly record struct ConstantShapeUse(string OpType, string Shape, string? Output);
