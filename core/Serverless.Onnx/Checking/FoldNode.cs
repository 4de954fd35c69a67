namespace Serverless.Onnx;

/// <summary>
/// A node that computes a tensor from its inputs which ONNX Runtime may build when the model is loaded, once every
/// input it needs is a constant: the shape ops (<c>Concat</c>, <c>Identity</c>, <c>Reshape</c>, <c>Mul</c>…) that
/// carry a shape to the ops that build tensors from one (<c>ConstantOfShape</c>, <c>Expand</c>, <c>Tile</c>,
/// <c>Range</c>). Checked once its whole graph is read, since the constants may come after it in the file.
/// </summary>
/// <param name="OpType">The node's operator.</param>
/// <param name="Inputs">Its input names.</param>
/// <param name="Output">Its first output's name, which names the node in a rejection.</param>
/// <param name="ValueElementBytes">Bytes per element of a <c>ConstantOfShape</c>'s <c>value</c> (4 by default: FP32).</param>
internal sealed record FoldNode(string OpType, string[] Inputs, string? Output, int ValueElementBytes);
