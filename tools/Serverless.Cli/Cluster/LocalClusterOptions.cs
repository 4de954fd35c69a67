namespace Serverless.Cli.Cluster;

/// <summary>How to start a local cluster.</summary>
public sealed class LocalClusterOptions
{
    public int Shards { get; set; } = 3;

    /// <summary>The router's port; 0 picks a free one.</summary>
    public int RouterPort { get; set; } = 7070;

    /// <summary>Keep Azurite's data in the state folder (true for <c>up</c>) or in memory (tests).</summary>
    public bool PersistStorage { get; set; } = true;

    /// <summary>Create tenant <c>demo</c> and publish the demo model.</summary>
    public bool CreateDemo { get; set; } = true;

    /// <summary>Start the GPU app (pool <c>gpu</c>; CPU execution provider where there is no GPU).</summary>
    public bool Gpu { get; set; } = true;

    /// <summary>More settings for every shard process (e.g. <c>Scaling__RequestsPerReplica</c>).</summary>
    public Dictionary<string, string> ShardSettings { get; } = [];

    /// <summary>More settings for the publisher process (e.g. <c>BlobTrigger__ScanIntervalSeconds</c>).</summary>
    public Dictionary<string, string> PublisherSettings { get; } = [];

    /// <summary>Each shard's session cache budget.</summary>
    public long ShardCacheBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>The GPU app's session budget; null = <see cref="ShardCacheBytes"/>. The publisher refuses GPU models that would not fit.</summary>
    public long? GpuCacheBytes { get; set; }
}
