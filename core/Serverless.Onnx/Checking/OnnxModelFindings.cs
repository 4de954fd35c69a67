namespace Serverless.Onnx;

/// <summary>What <see cref="OnnxModelReader"/> found in a model's bytes; all null for a model this platform can open.</summary>
/// <param name="ExternalData">The first tensor that keeps its data in an external file, named, with why that is refused.</param>
/// <param name="Unbounded">The first bound of <see cref="OnnxModelBounds"/> the model breaks.</param>
/// <param name="Malformed">Why the bytes are not protobuf any parser would accept, with the offset; what was found before it stands.</param>
/// <remarks>
/// A caller refusing a model puts external data first (ONNX Runtime would read a file of the caller's own), then a
/// broken bound, then malformed bytes, which ONNX Runtime's parser would refuse too.
/// </remarks>
public readonly record struct OnnxModelFindings(string? ExternalData, string? Unbounded, string? Malformed);
