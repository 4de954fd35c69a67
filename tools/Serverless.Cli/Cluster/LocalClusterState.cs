namespace Serverless.Cli.Cluster;

/// <summary>What <c>serverless up</c> started, written to <c>.serverless/local.json</c>.</summary>
public sealed class LocalClusterState
{
    public string RouterUrl { get; set; } = "";

    /// <summary>The storage connection string (Azurite).</summary>
    public string Storage { get; set; } = "";

    public List<TenantKey> Tenants { get; set; } = [];

    /// <summary>
    /// The cluster's internal key (<c>Internal__ShardKey</c>), random per cluster: every app gets it, and the
    /// CLI sends it when it calls shards itself (warm-ups). Shards trust the tenant header only with it.
    /// </summary>
    public string InternalKey { get; set; } = "";

    /// <summary>The router's admin key (<c>Router__AdminKey</c>), random per cluster: it opens <c>/dashboard</c> and <c>serverless top</c>.</summary>
    public string AdminKey { get; set; } = "";

    public List<ProcessEntry> Shards { get; set; } = [];

    public ProcessEntry? Router { get; set; }

    public ProcessEntry? Publisher { get; set; }

    /// <summary>Azurite's blob service.</summary>
    public ProcessEntry? Azurite { get; set; }

    /// <summary>Azurite's table service, its own process (see <see cref="Cluster.Azurite"/>).</summary>
    public ProcessEntry? AzuriteTables { get; set; }

    /// <summary>The GPU app (CPU execution provider locally), serving pool <c>gpu</c>.</summary>
    public ProcessEntry? Gpu { get; set; }

    /// <summary>What a process's command line carries, so only processes of ours are ever stopped.</summary>
    public string MarkerOf(ProcessEntry process) =>
        process == Azurite || process == AzuriteTables ? "azurite" : process == Gpu ? "Serverless.Gpu" : "Serverless.LocalHost";

    /// <summary>Every process of the cluster, Azurite's two last (the apps stop before their storage).</summary>
    public IEnumerable<ProcessEntry> AllProcesses()
    {
        if (Router is not null) yield return Router;
        foreach (var shard in Shards) yield return shard;
        if (Publisher is not null) yield return Publisher;
        if (Gpu is not null) yield return Gpu;
        if (Azurite is not null) yield return Azurite;
        if (AzuriteTables is not null) yield return AzuriteTables;
    }
}
