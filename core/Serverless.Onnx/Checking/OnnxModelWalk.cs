using System.Globalization;

namespace Serverless.Onnx;

/// <summary>What one <see cref="OnnxModelReader.Read(ReadOnlySpan{byte}, long)"/> has found so far, and scratch lists it reuses per tensor.</summary>
internal sealed class OnnxModelWalk
{
    private readonly long _maxTotalTensorBytes;

    public OnnxModelWalk(long maxTotalTensorBytes) => _maxTotalTensorBytes = maxTotalTensorBytes;

    /// <summary>Nodes read in all graphs together.</summary>
    public int Nodes { get; set; }

    /// <summary>Bytes of every tensor declared or folded at load so far, all graphs and functions together.</summary>
    public long TotalTensorBytes { get; private set; }

    public string? ExternalData { get; set; }

    public string? Unbounded { get; set; }

    public string? Malformed { get; private set; }

    /// <summary>
    /// Whether the walk can stop: external data outranks every other finding, and past malformed bytes nothing
    /// can be read reliably. A broken bound does not stop it, so external data later in the file is still found.
    /// </summary>
    public bool Done => ExternalData is not null || Malformed is not null;

    /// <summary>The dims of the tensor being read (tensors hold no tensors, so one list serves the walk).</summary>
    public List<long> Dims { get; } = new(8);

    /// <summary>The int64_data of the tensor being read.</summary>
    public List<long> Int64Data { get; } = new(16);

    /// <summary>Records the first malformation a reader met, if it met one.</summary>
    public void NoteError(string? error)
    {
        if (error is not null)
        {
            Malformed ??= error;
        }
    }

    /// <summary>Counts a tensor ONNX Runtime will hold once the model is loaded; past the model's total, notes the bound broken, naming <paramref name="what"/>.</summary>
    public void AddTensorBytes(long bytes, string what)
    {
        TotalTensorBytes = Saturating.Add(TotalTensorBytes, Math.Max(0, bytes));
        if (TotalTensorBytes > _maxTotalTensorBytes)
        {
            Unbounded ??= string.Create(CultureInfo.InvariantCulture,
                $"{what} brings the model's tensors to more than {_maxTotalTensorBytes:N0} bytes ({_maxTotalTensorBytes / (double)(1L << 30):0.##} GiB), the limit for one model: initializers, constants and the tensors ONNX Runtime builds from them when it loads the model, every graph and function together");
        }
    }
}
