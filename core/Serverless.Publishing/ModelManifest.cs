namespace Serverless.Publishing;

/// <summary>
/// The optional <c>model.json</c> dropped beside <c>model.onnx</c>. Unknown properties are refused, so a
/// typo is a rejection with the property named rather than a setting silently ignored.
/// </summary>
public sealed class ModelManifest
{
    /// <summary>What the model does, shown in metadata and <c>serverless models</c>.</summary>
    public string? Description { get; set; }

    /// <summary>Free-form key/value labels (team, owner, dataset, …).</summary>
    public Dictionary<string, string>? Labels { get; set; }

    /// <summary>Serve from the GPU pool.</summary>
    public bool Gpu { get; set; }

    /// <summary>Aliases to point at this version once it is Ready (e.g. <c>production</c>).</summary>
    public List<string>? Aliases { get; set; }

    /// <summary>The largest batch (first dimension) the model accepts; used by dynamic batching.</summary>
    public int? MaxBatch { get; set; }

    /// <summary>
    /// The most bytes of output tensors one run may answer (a model whose output size comes from its input); null =
    /// the shard's default, <c>Shard__DefaultMaxOutputBytes</c>.
    /// </summary>
    public long? MaxOutputBytes { get; set; }

    /// <summary>Dynamic batching: <c>{"maxQueueDelayUs": 500, "preferredBatchSize": 8}</c>.</summary>
    public ManifestBatching? DynamicBatching { get; set; }

    /// <summary>Per-input notes: <c>{"x": {"description": "…"}}</c>.</summary>
    public Dictionary<string, ManifestInput>? Inputs { get; set; }
}
