namespace Serverless.Cli.Cluster;

/// <summary>What <c>serverless up</c> started, written to <c>.serverless/local.json</c>.</summary>
public sealed class LocalClusterState
{
    public string RouterUrl { get; set; } = "";

    /// <summary>The storage connection string (Azurite).</summary>
    public string Storage { get; set; } = "";

    public List<TenantKey> Tenants { get; set; } = [];

    public List<ProcessEntry> Shards { get; set; } = [];

    public ProcessEntry? Router { get; set; }

    public ProcessEntry? Publisher { get; set; }

    public ProcessEntry? Azurite { get; set; }

    /// <summary>Every process of the cluster, Azurite last (the apps stop before their storage).</summary>
    public IEnumerable<ProcessEntry> AllProcesses()
    {
        if (Router is not null) yield return Router;
        foreach (var shard in Shards) yield return shard;
        if (Publisher is not null) yield return Publisher;
        if (Azurite is not null) yield return Azurite;
    }
}
