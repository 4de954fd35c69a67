using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.Extensions.Caching.Memory;
using Serverless.Cli.Cluster;
using Serverless.Cli.Publishing;
using Serverless.Core.Protocol;
using Serverless.Core.Registry;
using Serverless.Core.Storage;
using Serverless.Core.Tenancy;

namespace Serverless.Cli.Bench;

/// <summary>
/// The cluster a bench runs against: the one <c>up</c> started (found in local.json), or one the bench
/// starts itself in a temporary state folder and stops at the end. The bench works as tenant
/// <see cref="Tenant"/>, created with a quota high enough not to throttle the measurement, and publishes
/// through the blob drop like a user.
/// </summary>
internal sealed class BenchCluster : IAsyncDisposable
{
    public const string Tenant = "bench";
    private const int TenantRequestsPerSecond = 1_000_000;
    private readonly LocalCluster? _owned;
    private readonly string? _ownedPath;
    private readonly MemoryCache _cache = new(new MemoryCacheOptions());
    private readonly DropEventNotifier? _dropEvents;

    private BenchCluster(LocalClusterState state, LocalCluster? owned, string? ownedPath, string logsPath, string description)
    {
        State = state;
        _owned = owned;
        _ownedPath = ownedPath;
        LogsPath = logsPath;
        Description = description;
        Storage = LocalCluster.CreateStorage(state.Storage);
        _dropEvents = DropEventNotifier.For(state);
        Publisher = new DropPublisher(Storage, new ModelRegistry(Storage, _cache, TimeProvider.System), _dropEvents);
    }

    public LocalClusterState State { get; }

    public Uri RouterUrl => new(State.RouterUrl);

    public string ApiKey { get; private set; } = "";

    /// <summary>True when the bench started this cluster (and may choose its settings).</summary>
    public bool Owned => _owned is not null;

    public string LogsPath { get; }

    public string Description { get; }

    public StorageClients Storage { get; }

    public DropPublisher Publisher { get; }

    /// <summary>The running cluster when <paramref name="reuse"/> and local.json names a live one; else a new one.</summary>
    public static async Task<BenchCluster> OpenAsync(bool reuse, int shards, long cacheBytes, Action<string> log, CancellationToken cancellationToken)
    {
        BenchCluster cluster;
        var directory = StateDirectory.Default();
        if (reuse && directory.Read() is { } running && !string.IsNullOrEmpty(running.RouterUrl) && LocalCluster.IsRunning(running))
        {
            cluster = new BenchCluster(running, null, null, directory.LogsPath, $"the running cluster of {directory.StateFile} ({running.Shards.Count} shard(s), their own cache budget)");
        }
        else
        {
            var path = Path.Combine(Path.GetTempPath(), "serverless-bench-" + Guid.NewGuid().ToString("N")[..8]);
            var local = new LocalCluster(new StateDirectory(path), log);
            var options = new LocalClusterOptions { Shards = shards, RouterPort = 0, PersistStorage = false, CreateDemo = true, ShardCacheBytes = cacheBytes };
            var state = await local.StartAsync(options, cancellationToken).ConfigureAwait(false);
            cluster = new BenchCluster(state, local, path, Path.Combine(path, "logs"),
                string.Create(CultureInfo.InvariantCulture, $"started by the bench: {shards} shard(s), cache budget {cacheBytes / (1024.0 * 1024):0.#} MiB per shard, Azurite in memory"));
        }

        try
        {
            var tenants = new TenantStore(cluster.Storage, cluster._cache, TimeProvider.System);
            cluster.ApiKey = await tenants.AddKeyAsync(Tenant, null, TenantRequestsPerSecond, cancellationToken).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Publishes version 1 of each model through the drop, <paramref name="parallelism"/> at a time; throws on a rejection.</summary>
    public Task PublishAsync(IReadOnlyList<string> models, Func<int, byte[]> content, int parallelism, Action<string> log, CancellationToken cancellationToken) =>
        PublishAsync(Tenant, models, content, null, parallelism, log, cancellationToken);

    /// <summary>Adds (or re-keys) another tenant, for scenarios with several: its shuffle shard size and request quota.</summary>
    public async Task<string> AddTenantAsync(string tenant, int? shuffleShardSize, int requestsPerSecond, CancellationToken cancellationToken)
    {
        var tenants = new TenantStore(Storage, _cache, TimeProvider.System);
        return await tenants.AddKeyAsync(tenant, shuffleShardSize, requestsPerSecond, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Publishes version 1 of each model of <paramref name="tenant"/>, with <paramref name="manifest"/> as model.json when given.</summary>
    public async Task PublishAsync(string tenant, IReadOnlyList<string> models, Func<int, byte[]> content, byte[]? manifest, int parallelism, Action<string> log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(models);
        var done = 0;
        var errors = new ConcurrentQueue<string>();
        var lastReport = DateTime.UtcNow;
        await Parallel.ForEachAsync(Enumerable.Range(0, models.Count), new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var outcome = await Publisher.PublishAsync(tenant, models[i], "1", content(i), manifest, TimeSpan.FromMinutes(5), null, ct).ConfigureAwait(false);
            if (outcome.State != ModelStates.Ready)
            {
                errors.Enqueue($"{models[i]}: {outcome.State} {outcome.Error}");
            }

            var n = Interlocked.Increment(ref done);
            if (DateTime.UtcNow - lastReport > TimeSpan.FromSeconds(10))
            {
                lastReport = DateTime.UtcNow;
                log($"  published {n}/{models.Count}");
            }
        }).ConfigureAwait(false);
        if (!errors.IsEmpty)
        {
            throw new InvalidOperationException($"{errors.Count} publish(es) failed, e.g. {errors.First()}");
        }
    }

    /// <summary>The first replica's base URL of a model, from the router's direct-mode placement answer.</summary>
    public Task<Uri> ShardUrlAsync(HttpClient http, string model, CancellationToken cancellationToken) => ShardUrlAsync(http, model, ApiKey, cancellationToken);

    /// <summary>The first replica's base URL of a model of the tenant whose key is <paramref name="apiKey"/>.</summary>
    public async Task<Uri> ShardUrlAsync(HttpClient http, string model, string apiKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(RouterUrl, $"/v2/models/{model}/placement"));
        request.Headers.TryAddWithoutValidation("x-api-key", apiKey);
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var placement = await response.Content.ReadFromJsonAsync(CoreJsonContext.Default.PlacementResponse, cancellationToken).ConfigureAwait(false);
        if (placement is null || placement.Replicas.Count == 0)
        {
            throw new InvalidOperationException($"the router gave no replica for '{model}'");
        }

        return new Uri(placement.Replicas[0].Url);
    }

    /// <summary>Drops the model's version 1 from the cache of every replica the router places it on (v2 repository unload).</summary>
    public async Task UnloadEverywhereAsync(HttpClient http, string model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        using var placementRequest = new HttpRequestMessage(HttpMethod.Get, new Uri(RouterUrl, $"/v2/models/{model}/placement"));
        placementRequest.Headers.TryAddWithoutValidation("x-api-key", ApiKey);
        using var placementResponse = await http.SendAsync(placementRequest, cancellationToken).ConfigureAwait(false);
        placementResponse.EnsureSuccessStatusCode();
        var placement = await placementResponse.Content.ReadFromJsonAsync(CoreJsonContext.Default.PlacementResponse, cancellationToken).ConfigureAwait(false);
        foreach (var replica in placement?.Replicas ?? [])
        {
            using var unload = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(replica.Url), $"/v2/repository/models/{model}/versions/1/unload"));
            unload.Headers.TryAddWithoutValidation("x-api-key", ApiKey);
            using var response = await http.SendAsync(unload, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode && response.StatusCode != System.Net.HttpStatusCode.NotFound)
            {
                throw new InvalidOperationException($"unloading {model} from {replica.Url} answered {(int)response.StatusCode}");
            }
        }
    }

    /// <summary>Each shard's cache figures (<c>internal/stats</c>, with the internal key); shards that do not answer are left out.</summary>
    public async Task<IReadOnlyList<Core.Observability.ShardStats>> ShardStatsAsync(HttpClient http, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        var all = new List<Core.Observability.ShardStats>();
        foreach (var shard in State.Shards)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(shard.Url), "/" + Serverless.Routing.DashboardService.StatsPath));
            request.Headers.TryAddWithoutValidation(Serverless.Routing.ShardHeaders.InternalKey, State.InternalKey);
            try
            {
                using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode
                    && await response.Content.ReadFromJsonAsync(Core.Observability.DashboardJsonContext.Default.ShardStats, cancellationToken).ConfigureAwait(false) is { } stats)
                {
                    all.Add(stats);
                }
            }
            catch (HttpRequestException)
            {
            }
        }

        return all;
    }

    /// <summary>The infer URL of a model through the router.</summary>
    public Uri RouterInferUri(string model) => new(RouterUrl, $"/v2/models/{model}/versions/1/infer");

    public async ValueTask DisposeAsync()
    {
        _cache.Dispose();
        _dropEvents?.Dispose();
        if (_owned is not null)
        {
            await _owned.StopAsync(State).ConfigureAwait(false);
            try
            {
                // SERVERLESS_BENCH_KEEP=1 keeps the cluster's folder (every process's log, Azurite's access logs) to
                // read after the run: what a scenario's errors were, which storage calls it made.
                if (Environment.GetEnvironmentVariable("SERVERLESS_BENCH_KEEP") is "1")
                {
                    Console.Error.WriteLine($"bench: the cluster's logs are kept in {LogsPath}");
                }
                else
                {
                    Directory.Delete(_ownedPath!, recursive: true);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
