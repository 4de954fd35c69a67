using System.Text.Json.Serialization;

namespace Serverless.Core.Observability;

/// <summary>What <c>GET /dashboard/data</c> answers: the fleet as the router sees it, for the page and <c>serverless top</c>.</summary>
public sealed record DashboardData(
    DateTimeOffset GeneratedAt,
    int WindowMinutes,
    WindowTotals Window,
    IReadOnlyList<TenantTotal> Lifetime,
    IReadOnlyList<string> Tenants,
    IReadOnlyList<ShardRow> Shards,
    IReadOnlyList<HeatCell> Heat,
    IReadOnlyList<HotModel> HotModels,
    IReadOnlyList<LatencyPoint> Series,
    IReadOnlyList<PublishRow> Publishes)
{
    /// <summary>Versions published in the lookback that <see cref="Publishes"/> does not list (it has the newest only).</summary>
    public long MorePublishes { get; init; }

    /// <summary>Tenants with requests that <see cref="Lifetime"/> and <see cref="Tenants"/> do not list (they have the busiest only).</summary>
    public long MoreTenants { get; init; }

    /// <summary>The registry in figures (its last census); null until the first census pass has finished.</summary>
    public RegistryTotals? Registry { get; init; }
}

/// <summary>The window's requests, 5xx answers, other non-2xx answers, throughput and latency percentiles.</summary>
public sealed record WindowTotals(long Requests, long Errors, long Rejected, double RequestsPerSecond, double P50Ms, double P99Ms);

/// <summary>A tenant's requests through this router since it started (the <c>serverless.requests</c> counter, app=router).</summary>
public sealed record TenantTotal(string Tenant, long Requests, long Ok);

/// <summary>
/// A shard row of Table <c>shards</c> with what it reports (<see cref="ShardStats"/>; null with
/// <see cref="Error"/> when it did not answer) and the router's requests to it in the window.
/// </summary>
public sealed record ShardRow(string Id, string Pool, string Url, string State, bool Live, long Requests, double? HitRate, ShardStats? Stats, string? Error);

/// <summary>Requests of one tenant served by one shard in the window (the heat map).</summary>
public sealed record HeatCell(string Shard, string Tenant, long Requests);

/// <summary>One of the busiest models in the window, the shards that served it and its current replicas.</summary>
public sealed record HotModel(string Tenant, string Model, long Requests, long Errors, IReadOnlyList<string> ServedBy, IReadOnlyList<string> Replicas, string? Reason);

/// <summary>A recent row of the registry: a publish (Ready) or a rejection with its reason.</summary>
public sealed record PublishRow(string Tenant, string Model, string Version, string State, string? Error, long SizeBytes, DateTimeOffset PublishedAt);

/// <summary>Source-generated JSON of the dashboard's bodies.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DashboardData))]
[JsonSerializable(typeof(ShardStats))]
public sealed partial class DashboardJsonContext : JsonSerializerContext;
