using System.ComponentModel.DataAnnotations;

namespace Serverless.Core.Sharding;

/// <summary>Settings of one shard app (section <c>Shard</c>), the same names locally and in Azure.</summary>
public sealed class ShardOptions
{
    public const string SectionName = "Shard";

    /// <summary>The shard's id, <c>shard-00</c> … ; it is the row key in Table <c>shards</c>.</summary>
    [Required]
    [RegularExpression("^[a-z0-9][a-z0-9-]{0,62}$")]
    public string Id { get; set; } = "";

    /// <summary>The pool it serves: <c>cpu</c> or <c>gpu</c>.</summary>
    [RegularExpression("^(cpu|gpu)$")]
    public string Pool { get; set; } = "cpu";

    /// <summary>The URL the router reaches this shard at.</summary>
    [Required]
    public Uri? BaseUrl { get; set; }

    /// <summary>The session cache's budget in bytes.</summary>
    [Range(1L << 20, long.MaxValue)]
    public long CacheBytes { get; set; } = 1L << 30;

    /// <summary>
    /// How long a stopping shard stays up as <c>Draining</c>, serving what still arrives while the routers
    /// (which re-read Table <c>shards</c> every 2 s) move its models to their next replicas.
    /// </summary>
    [Range(0, 300)]
    public int DrainSeconds { get; set; } = 3;

    /// <summary>The local disk tier's folder; empty = a folder under the temp path named after the shard.</summary>
    public string? DiskTierPath { get; set; }

    /// <summary>The disk tier's budget in bytes; 0 turns it off.</summary>
    [Range(0, long.MaxValue)]
    public long DiskTierBytes { get; set; } = 10L << 30;

    /// <summary>The most models an instance prewarms at start.</summary>
    [Range(0, 10_000)]
    public int PrewarmModels { get; set; } = 50;

    /// <summary>The time budget of the prewarm; the instance reports ready when it is spent at the latest.</summary>
    [Range(1, 600)]
    public int PrewarmSeconds { get; set; } = 20;

    /// <summary>How often the shard renews its row in Table <c>shards</c>.</summary>
    [Range(1, 300)]
    public int HeartbeatSeconds { get; set; } = 5;

    /// <summary>
    /// Requests of one model running at once on this shard; more wait (up to <see cref="MaxQueuedRequestsPerModel"/>),
    /// beyond that they get 429. One hot model cannot take every thread from the shard's other models.
    /// </summary>
    [Range(1, 100_000)]
    public int MaxConcurrentRequestsPerModel { get; set; } = 64;

    /// <summary>Requests of one model waiting for a slot before the next gets 429.</summary>
    [Range(0, 100_000)]
    public int MaxQueuedRequestsPerModel { get; set; } = 256;

    /// <summary>
    /// Resident memory above which the shard loads no new model (503, the router tries another replica) while it
    /// goes on serving the resident ones; 0 = 90% of the memory the runtime may use (the container's or plan's limit).
    /// </summary>
    [Range(0, long.MaxValue)]
    public long MemoryLimitBytes { get; set; }

    /// <summary>
    /// The request quota per second applied here to a direct-mode caller whose tenant row sets none (the router's
    /// <c>Router__DefaultTenantRequestsPerSecond</c>, which should be the same value).
    /// </summary>
    [Range(1, int.MaxValue)]
    public int DefaultTenantRequestsPerSecond { get; set; } = 1000;

    /// <summary>
    /// The most memory one inference request may take on the shard: its body plus the tensors decoded from it (a
    /// dynamic batch's stacked copy too). Counted before each buffer is allocated; over it the answer is 413 naming it.
    /// </summary>
    [Range(1L << 20, long.MaxValue)]
    public long MaxRequestMemoryBytes { get; set; } = 256L << 20;

    /// <summary>
    /// The most memory all requests in flight on the shard may take together (as <see cref="MaxRequestMemoryBytes"/>
    /// counts it); over it a request gets 503 with <c>Retry-After</c>, which the router retries on another replica.
    /// </summary>
    [Range(1L << 20, long.MaxValue)]
    public long InFlightMemoryBytes { get; set; } = 1L << 30;

    /// <summary>
    /// Runs of one tenant's models at once on this shard, all its models together; more wait (up to
    /// <see cref="MaxQueuedRunsPerTenant"/>). 0 = the processor count, at least 2: one tenant cannot hold more run threads
    /// than the shard has cores while other tenants' requests wait, nor more run-arena memory than that many of its
    /// largest tensors (at twice the cores, bench hostile's 16 MiB output asks held 4 × 16 MiB on a 2-core shard).
    /// </summary>
    [Range(0, 100_000)]
    public int MaxConcurrentRunsPerTenant { get; set; }

    /// <summary>One tenant's runs waiting for a slot before the next gets 429.</summary>
    [Range(0, 100_000)]
    public int MaxQueuedRunsPerTenant { get; set; } = 1024;

    /// <summary>
    /// The most bytes of output tensors one run may answer when the model's <c>model.json</c> sets no
    /// <c>maxOutputBytes</c>; over it the answer is 400 naming the cap, and nothing is encoded.
    /// </summary>
    [Range(1L << 10, long.MaxValue)]
    public long DefaultMaxOutputBytes { get; set; } = 64L << 20;

    /// <summary>
    /// Model loads (bytes read + session created) running at once on this shard; more wait for a slot, loads that
    /// requests wait on before warm-ups. 0 = four per processor, at least 4: a load is part storage wait, part CPU,
    /// so a few per core keep the cores busy without letting a burst of misses hold every model's bytes at once.
    /// </summary>
    [Range(0, 1024)]
    public int MaxConcurrentLoads { get; set; }

    /// <summary>
    /// The most bytes of pinned (<c>serverless scale MODEL --min-resident</c>) sessions this shard keeps resident,
    /// never evicted; a pinned model past it is served as an ordinary one (and the shard logs that). Part of
    /// <see cref="CacheBytes"/>, and at most half of it, so unpinned models always keep room to load. -1 (the default) =
    /// an eighth of <see cref="CacheBytes"/>; 0 = no model is kept pinned here.
    /// </summary>
    [Range(-1, long.MaxValue)]
    public long PinnedBytes { get; set; } = -1;

    /// <summary>The pinned budget in effect: <see cref="PinnedBytes"/>, or an eighth of the cache when -1.</summary>
    public long EffectivePinnedBytes => PinnedBytes < 0 ? CacheBytes / 8 : PinnedBytes;

    /// <summary>How often the shard re-reads which models are pinned (Table <c>placements</c>, rows with <c>MinResident</c>).</summary>
    [Range(1, 3600)]
    public int PinRefreshSeconds { get; set; } = 10;

    /// <summary>The load concurrency in effect: <see cref="MaxConcurrentLoads"/>, or its default when 0.</summary>
    public int EffectiveConcurrentLoads => MaxConcurrentLoads > 0 ? MaxConcurrentLoads : Math.Max(4, 4 * Environment.ProcessorCount);

    /// <summary>The per-tenant run limit in effect: <see cref="MaxConcurrentRunsPerTenant"/>, or its default when 0.</summary>
    public int EffectiveConcurrentRunsPerTenant => MaxConcurrentRunsPerTenant > 0 ? MaxConcurrentRunsPerTenant : Math.Max(2, Environment.ProcessorCount);
}
