using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Azure.Data.Tables;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Placement;
using Serverless.Core.Registry;
using Serverless.Routing;
using Serverless.Core.Sharding;
using Serverless.Core.Storage;
using Serverless.Core.Tenancy;
using Serverless.Core.Serving;
using Serverless.Core.Observability;

namespace Serverless.Routing;

/// <summary>
/// The router's dashboard: checks the admin key (<c>Router__AdminKey</c>) and gathers
/// <see cref="DashboardData"/> from its own <see cref="RequestWindow"/>, each shard's
/// <c>/internal/stats</c> and the registry's census (<see cref="RegistryCensus"/>), at most once a second however many
/// viewers. Every list in the answer is bounded (the busiest <see cref="TenantRows"/> tenants, <see cref="HotModelCount"/>
/// models, the newest publishes) with a count of the rest, so the page stays small with 100,000 models.
/// </summary>
public sealed partial class DashboardService
{
    public const string AdminKeyHeader = "x-admin-key";
    public const string StatsPath = "internal/stats";
    public const int HotModelCount = 10;

    /// <summary>Tenants listed (lifetime table, heat map columns): the busiest; the rest are <see cref="DashboardData.MoreTenants"/>.</summary>
    public const int TenantRows = 50;

    private readonly IServiceProvider _services;
    private readonly RequestWindow _window;
    private readonly IMemoryCache _cache;
    private readonly TimeProvider _time;
    private readonly ILogger<DashboardService> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public DashboardService(IServiceProvider services, RequestWindow window, IMemoryCache cache, TimeProvider time, ILogger<DashboardService> logger)
    {
        _services = services;
        _window = window;
        _cache = cache;
        _time = time;
        _logger = logger;
    }

    /// <summary>True when <paramref name="presented"/> is the configured admin key (constant time); false when none is configured.</summary>
    public bool IsAdmin(string? presented)
    {
        var configured = _services.GetService<IOptions<RouterOptions>>()?.Value.AdminKey;
        if (string.IsNullOrEmpty(configured) || string.IsNullOrEmpty(presented))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(configured)));
    }

    /// <summary>The dashboard's figures for the last <paramref name="minutes"/> minutes.</summary>
    public async Task<DashboardData> GetAsync(int minutes, CancellationToken cancellationToken)
    {
        minutes = Math.Clamp(minutes, 1, RequestWindow.Buckets * RequestWindow.BucketSeconds / 60);
        var cacheKey = "dashboard:" + minutes;
        if (_cache.TryGetValue(cacheKey, out DashboardData? cached) && cached is not null)
        {
            return cached;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_cache.TryGetValue(cacheKey, out cached) && cached is not null)
            {
                return cached;
            }

            var data = await BuildAsync(minutes, cancellationToken).ConfigureAwait(false);
            _cache.Set(cacheKey, data, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(1), Size = 1 });
            return data;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<DashboardData> BuildAsync(int minutes, CancellationToken cancellationToken)
    {
        var snapshot = _window.Snapshot(minutes);
        var rows = await ShardRowsAsync(cancellationToken).ConfigureAwait(false);
        var statsTask = Task.WhenAll(rows.Select(row => FetchStatsAsync(row, cancellationToken)));
        var censusTask = _services.GetRequiredService<RegistryCensus>().GetAsync(cancellationToken);
        var hotTask = HotModelsAsync(snapshot, cancellationToken);

        var perShard = new Dictionary<string, long>(StringComparer.Ordinal);
        var heat = new Dictionary<(string Shard, string Tenant), long>();
        var tenants = new SortedSet<string>(StringComparer.Ordinal);
        long requests = 0, errors = 0, rejected = 0;
        foreach (var (key, count) in snapshot.Counts)
        {
            requests += count;
            if (key.Status >= 500)
            {
                errors += count;
            }
            else if (key.Status >= 300)
            {
                rejected += count;
            }

            tenants.Add(key.Tenant);
            if (key.Shard.Length > 0)
            {
                perShard[key.Shard] = perShard.GetValueOrDefault(key.Shard) + count;
                heat[(key.Shard, key.Tenant)] = heat.GetValueOrDefault((key.Shard, key.Tenant)) + count;
            }
        }

        var allLifetime = _window.Totals()
            .GroupBy(p => p.Key.Tenant, StringComparer.Ordinal)
            .Select(g => new TenantTotal(g.Key, g.Sum(p => p.Value), g.Where(p => p.Key.Status is >= 200 and < 300).Sum(p => p.Value)))
            .OrderByDescending(t => t.Requests)
            .ThenBy(t => t.Tenant, StringComparer.Ordinal)
            .ToList();
        foreach (var total in allLifetime)
        {
            tenants.Add(total.Tenant);
        }

        // The busiest tenants only (in the window, then since the start): the heat map's columns and the lifetime table.
        var windowByTenant = heat.GroupBy(p => p.Key.Tenant, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(p => p.Value), StringComparer.Ordinal);
        var lifetimeByTenant = allLifetime.ToDictionary(t => t.Tenant, t => t.Requests, StringComparer.Ordinal);
        var listedTenants = tenants
            .OrderByDescending(t => windowByTenant.GetValueOrDefault(t))
            .ThenByDescending(t => lifetimeByTenant.GetValueOrDefault(t))
            .ThenBy(t => t, StringComparer.Ordinal)
            .Take(TenantRows)
            .Order(StringComparer.Ordinal)
            .ToList();
        var listed = new HashSet<string>(listedTenants, StringComparer.Ordinal);
        var lifetime = allLifetime.Take(TenantRows).ToList();

        var stats = await statsTask.ConfigureAwait(false);
        var shards = new List<ShardRow>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var (row, live) = rows[i];
            var (shardStats, error) = stats[i];
            var lookups = shardStats is null ? 0 : shardStats.Hits + shardStats.Misses;
            shards.Add(new ShardRow(
                row.RowKey, row.PartitionKey, row.BaseUrl, row.State, live, perShard.GetValueOrDefault(row.RowKey),
                lookups == 0 ? null : Math.Round((double)shardStats!.Hits / lookups, 4), shardStats, error));
        }

        var seconds = Math.Max(1, snapshot.Series.Count * RequestWindow.BucketSeconds);
        var census = await censusTask.ConfigureAwait(false);
        IReadOnlyList<PublishRow> publishes = census?.Recent ?? [];
        return new DashboardData(
            _time.GetUtcNow(),
            minutes,
            new WindowTotals(requests, errors, rejected, Math.Round((double)requests / seconds, 2), snapshot.P50Ms, snapshot.P99Ms),
            lifetime,
            listedTenants,
            shards,
            heat.Where(p => listed.Contains(p.Key.Tenant)).Select(p => new HeatCell(p.Key.Shard, p.Key.Tenant, p.Value)).OrderBy(c => c.Shard, StringComparer.Ordinal).ThenBy(c => c.Tenant, StringComparer.Ordinal).ToList(),
            await hotTask.ConfigureAwait(false),
            snapshot.Series,
            publishes)
        {
            MorePublishes = census is null ? 0 : Math.Max(0, census.PublishedInLookback - publishes.Count),
            MoreTenants = tenants.Count - listedTenants.Count,
            Registry = census?.Totals,
        };
    }

    private async Task<List<(ShardEntity Row, bool Live)>> ShardRowsAsync(CancellationToken cancellationToken)
    {
        var directory = _services.GetRequiredService<ShardDirectory>();
        var rows = await directory.ListAsync(null, cancellationToken).ConfigureAwait(false);
        var result = new List<(ShardEntity, bool)>(rows.Count);
        foreach (var row in rows.OrderBy(r => r.RowKey, StringComparer.Ordinal))
        {
            if (row.PartitionKey == RouterInstances.Pool)
            {
                continue; // the routers' own heartbeats (their quota shares), not shards
            }

            var live = (await directory.GetLiveAsync(row.PartitionKey, cancellationToken).ConfigureAwait(false)).Any(s => s.Id == row.RowKey);
            result.Add((row, live));
        }

        return result;
    }

    private async Task<(ShardStats? Stats, string? Error)> FetchStatsAsync((ShardEntity Row, bool Live) shard, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(shard.Row.BaseUrl.TrimEnd('/') + "/" + StatsPath, UriKind.Absolute, out var url))
        {
            return (null, "no valid base URL");
        }

        try
        {
            var client = _services.GetRequiredService<IHttpClientFactory>().CreateClient(ShardClient.HttpClientName);
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            var internalKey = _services.GetService<IOptions<InternalKeyOptions>>()?.Value;
            if (internalKey is { IsConfigured: true })
            {
                request.Headers.TryAddWithoutValidation(ShardHeaders.InternalKey, internalKey.ShardKey);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            using var response = await client.SendAsync(request, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"answered {(int)response.StatusCode}");
            }

            return (await response.Content.ReadFromJsonAsync(DashboardJsonContext.Default.ShardStats, timeout.Token).ConfigureAwait(false), null);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            LogStatsFailed(shard.Row.RowKey, e.Message);
            return (null, e is OperationCanceledException ? "did not answer within 2 s" : e.Message);
        }
    }

    private async Task<List<HotModel>> HotModelsAsync(WindowSnapshot snapshot, CancellationToken cancellationToken)
    {
        // 404s (made-up names, under one label) and the overflow key are no model: never a row of the hottest.
        var top = snapshot.Counts
            .Where(p => p.Key.Model is not (ServerlessMetrics.UnknownModel or RequestWindow.OverflowModel))
            .GroupBy(p => (p.Key.Tenant, p.Key.Model))
            .Select(g => (g.Key.Tenant, g.Key.Model, Requests: g.Sum(p => p.Value), Errors: g.Where(p => p.Key.Status >= 500).Sum(p => p.Value),
                ServedBy: g.Where(p => p.Key.Shard.Length > 0).Select(p => p.Key.Shard).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList()))
            .OrderByDescending(m => m.Requests)
            .ThenBy(m => m.Model, StringComparer.Ordinal)
            .Take(HotModelCount)
            .ToList();
        var result = new List<HotModel>(top.Count);
        foreach (var m in top)
        {
            IReadOnlyList<string> replicas = [];
            string? reason = null;
            try
            {
                var entry = await _services.GetRequiredService<ModelCatalog>().ResolveAsync(m.Tenant, m.Model, null, cancellationToken).ConfigureAwait(false);
                var k = await _services.GetRequiredService<TenantStore>().GetShuffleShardSizeAsync(m.Tenant, cancellationToken).ConfigureAwait(false);
                var (shards, why) = await _services.GetRequiredService<ReplicaResolver>().ExplainAsync(m.Tenant, k, m.Model, entry.Pool, cancellationToken).ConfigureAwait(false);
                replicas = shards.Select(s => s.Id).ToList();
                reason = why;
            }
            catch (Exception e) when (e is ServingException or Azure.RequestFailedException)
            {
                reason = e.Message;
            }

            result.Add(new HotModel(m.Tenant, m.Model, m.Requests, m.Errors, m.ServedBy, replicas, reason));
        }

        return result;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Stats of shard {ShardId} unavailable: {Reason}")]
    private partial void LogStatsFailed(string shardId, string reason);
}
