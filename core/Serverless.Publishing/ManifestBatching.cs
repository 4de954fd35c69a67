namespace Serverless.Publishing;

/// <summary>The <c>dynamicBatching</c> entry of <c>model.json</c> (Triton's names: max_queue_delay_us, preferred_batch_size).</summary>
public sealed class ManifestBatching
{
    /// <summary>How long the first request of a batch may wait for others, in microseconds (1 to 1,000,000).</summary>
    public int MaxQueueDelayUs { get; set; }

    /// <summary>Run as soon as this many rows are queued (at least 1).</summary>
    public int PreferredBatchSize { get; set; } = 8;
}
