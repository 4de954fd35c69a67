namespace Serverless.Cli.Bench;

/// <summary>What <c>serverless bench</c> runs and for how long.</summary>
internal sealed class BenchOptions
{
    public static readonly string[] AllScenarios = ["floor-ort", "floor-http", "shard", "router", "cold", "zipf", "batching", "isolation", "hostile", "density", "fleet"];

    /// <summary>What <c>--scenario all</c> runs: every scenario but <c>fleet</c>, which starts a cluster of its own and takes many minutes.</summary>
    public static readonly string[] DefaultScenarios = ["floor-ort", "floor-http", "shard", "router", "cold", "zipf", "batching", "isolation", "hostile", "density"];

    /// <summary>The scenarios to run, in order.</summary>
    public IReadOnlyList<string> Scenarios { get; set; } = DefaultScenarios;

    /// <summary>Measured seconds of each load phase (after its warm-up).</summary>
    public double DurationSeconds { get; set; } = 10;

    /// <summary>Seconds of warm-up before each load phase; not measured.</summary>
    /// <summary>
    /// Unmeasured load before each phase. 5 s: under `wrk` a fresh router reached its steady rate only after
    /// ~10 s of load (tiered JIT, connection pools, the hot model's replicas being added), 2 s measured mostly that.
    /// </summary>
    public double WarmupSeconds { get; set; } = 5;

    /// <summary>Open-loop arrival rate for shard and router; null = half of the closed-loop maximum just measured.</summary>
    public double? Rate { get; set; }

    /// <summary>Concurrent connections of closed-loop phases (and the connection pool of open-loop ones).</summary>
    public int Connections { get; set; } = 32;

    /// <summary>Models of the zipf and density scenarios.</summary>
    public int Models { get; set; } = 2000;

    /// <summary>Fresh ~1 MB models the cold scenario publishes and loads once.</summary>
    public int ColdModels { get; set; } = 20;

    /// <summary>Distinct made-up model names the hostile scenario sends, for the router's memory over them.</summary>
    public long JunkRequests { get; set; } = 1_000_000;

    /// <summary>Zipf exponent of popularity.</summary>
    public double Zipf { get; set; } = 1.1;

    /// <summary>Shards of a cluster the bench starts itself (density always uses one).</summary>
    public int Shards { get; set; } = 2;

    /// <summary>Each shard's cache budget when the bench starts the cluster itself (smaller than the zipf set).</summary>
    public long ShardCacheBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Publishes in flight at once (the publisher handles as many drops at once; issue 17).</summary>
    public int PublishParallelism { get; set; } = 32;

    public string? JsonPath { get; set; }

    public string? PlotPath { get; set; }

    /// <summary>The command line as typed, for the report.</summary>
    public string CommandLine { get; set; } = "tools/serverless bench";

    public bool Runs(string scenario) => Scenarios.Contains(scenario, StringComparer.Ordinal);

    /// <summary>Null when valid; else what is wrong.</summary>
    public string? Validate()
    {
        foreach (var scenario in Scenarios)
        {
            if (!AllScenarios.Contains(scenario, StringComparer.Ordinal))
            {
                return $"unknown scenario '{scenario}'; use all or one of {string.Join(", ", AllScenarios)}";
            }
        }

        if (JunkRequests is < 1 or > 100_000_000)
        {
            return "--junk-requests must be between 1 and 100,000,000";
        }

        if (DurationSeconds is <= 0 or > 600)
        {
            return "--duration must be between 0 and 600 seconds";
        }

        if (WarmupSeconds is < 0 or > 600)
        {
            return "--warmup must be between 0 and 600 seconds";
        }

        if (Rate is <= 0)
        {
            return "--rate must be positive";
        }

        if (Connections is < 1 or > 1024)
        {
            return "--connections must be between 1 and 1024";
        }

        if (Models is < 1 or > 1_000_000)
        {
            return "--models must be between 1 and 1000000";
        }

        if (ColdModels is < 1 or > 1000)
        {
            return "--cold-models must be between 1 and 1000";
        }

        return Shards is < 1 or > 16 ? "--shards must be between 1 and 16" : null;
    }
}
