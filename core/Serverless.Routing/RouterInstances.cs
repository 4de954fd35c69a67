using Serverless.Core.Sharding;

namespace Serverless.Routing;

/// <summary>
/// How many router instances are live, as their heartbeat rows in Table <c>shards</c> (partition
/// <see cref="Pool"/>) last said; <see cref="TenantRateLimiter"/> applies 1/<see cref="Count"/> of each quota.
/// One until the first beat has been read, and whenever storage cannot be read: a lone router must not throttle
/// below the quota, and while storage is away the last count stands.
/// </summary>
public sealed class RouterInstances
{
    /// <summary>The partition of Table <c>shards</c> the routers beat in; no shard pool has this name.</summary>
    public const string Pool = "router";

    /// <summary>How often a router renews its row (seconds); a row missing <see cref="ShardDirectory.MissedHeartbeats"/> beats no longer counts.</summary>
    public const int HeartbeatSeconds = 5;

    private volatile int _count = 1;

    /// <summary>This instance's id: App Service's instance id in Azure, else the host name and the process id.</summary>
    public string InstanceId { get; } = Environment.GetEnvironmentVariable("WEBSITE_INSTANCE_ID") is { Length: > 0 } id
        ? "router-" + (id.Length > 24 ? id[..24] : id).ToLowerInvariant()
        : $"router-{Environment.MachineName.ToLowerInvariant()}-{Environment.ProcessId}";

    /// <summary>The live router instances, this one included (at least one).</summary>
    public int Count => _count;

    /// <summary>Takes the live rows read a moment ago.</summary>
    public void Update(IReadOnlyList<ShardEntity> rows, DateTimeOffset now) => _count = Math.Max(1, ShardDirectory.Live(rows, now).Count);
}
