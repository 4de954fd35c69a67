namespace Serverless.Onnx;

/// <summary>What <see cref="OnnxModelReader"/> keeps of one node attribute: what a <c>Constant</c> or <c>ConstantOfShape</c> needs.</summary>
internal sealed class AttributeFacts
{
    public string? Name { get; set; }

    /// <summary>Its <c>t</c> or <c>sparse_tensor</c>, as read (already checked and counted).</summary>
    public KnownTensor? Tensor { get; set; }

    /// <summary>Its <c>i</c>.</summary>
    public long Int { get; set; }

    /// <summary>Its <c>ints</c>.</summary>
    public List<long> Ints { get; } = [];

    /// <summary>How many <c>floats</c> or <c>strings</c> it has.</summary>
    public long Count { get; set; }
}
