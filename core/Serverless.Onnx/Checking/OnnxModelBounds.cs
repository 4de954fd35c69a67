namespace Serverless.Onnx;

/// <summary>
/// Bounds a dropped model must keep before ONNX Runtime opens it, so a malicious or broken file cannot take the
/// publisher (or later a shard) down while a session is created: how many nodes, how deeply graphs nest (If and
/// Loop bodies), how many elements a tensor declares, and how large a tensor a constant-shaped
/// <c>ConstantOfShape</c> or <c>Expand</c> would make, which ORT's constant folding builds at session creation
/// (a "zip bomb": a few bytes of shape that unfold into terabytes). <see cref="OnnxModelReader"/> checks them in
/// the same pass that looks for external data.
/// </summary>
public static class OnnxModelBounds
{
    /// <summary>Nodes in all graphs together.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>
    /// The reader's one depth limit: graphs inside graphs (If/Loop/Scan bodies), the only field it follows
    /// recursively, and protobuf groups inside groups, which it skips.
    /// </summary>
    public const int MaxNesting = 16;

    /// <summary>Elements one tensor may declare, or a constant-shaped op produce (2^28: 1 GiB of FP32).</summary>
    public const long MaxTensorElements = 1L << 28;

    /// <summary>
    /// Bytes of every tensor a model declares or has ONNX Runtime build at load, all graphs together (2 GiB): 64
    /// <c>ConstantOfShape</c> nodes each under <see cref="MaxTensorElements"/> would otherwise add up to 64 GiB.
    /// </summary>
    public const long MaxTotalTensorBytes = 2L << 30;

    /// <summary>Null when the model keeps every bound (or is not readable protobuf, which ORT then rejects); else the bound it breaks.</summary>
    public static string? Check(ReadOnlySpan<byte> model) => OnnxModelReader.Read(model).Unbounded;
}
