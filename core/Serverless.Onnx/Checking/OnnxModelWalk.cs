namespace Serverless.Onnx;

/// <summary>What one <see cref="OnnxModelReader.Read"/> has found so far, and scratch lists it reuses per tensor.</summary>
internal sealed class OnnxModelWalk
{
    /// <summary>Nodes read in all graphs together.</summary>
    public int Nodes { get; set; }

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
}
