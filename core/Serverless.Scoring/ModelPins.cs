using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Placement;
using Serverless.Core.Registry;
using Serverless.Core.Serving;
using Serverless.Core.Sharding;
using Serverless.Core.Tenancy;

namespace Serverless.Scoring;

/// <summary>
/// The models pinned resident on this shard (<c>serverless scale MODEL --min-resident</c>): the pinned placement rows
/// whose model has this shard among its replicas, at the version a request without one gets. <see cref="RefreshAsync"/>
/// reads them (one query of Table <c>placements</c>), hands their cache keys to <see cref="SessionCache.SetPins"/> and
/// loads the ones not resident, as warm-ups (a request's load goes first). A pin past the shard's pinned budget is
/// served as an ordinary model, and the shard logs that once per change.
/// </summary>
public sealed partial class ModelPins
{
    private readonly PlacementStore _placements;
    private readonly ReplicaResolver _replicas;
    private readonly TenantStore _tenants;
    private readonly ModelCatalog _catalog;
    private readonly SessionCache _cache;
    private readonly ModelLoader _loader;
    private readonly ShardInfo _self;
    private readonly ILogger<ModelPins> _logger;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private HashSet<string> _reportedOverBudget = new(StringComparer.Ordinal);
    private int _lastPinned = -1;

    public ModelPins(PlacementStore placements, ReplicaResolver replicas, TenantStore tenants, ModelCatalog catalog, SessionCache cache, ModelLoader loader, IOptions<ShardOptions> options, ILogger<ModelPins> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _placements = placements;
        _replicas = replicas;
        _tenants = tenants;
        _catalog = catalog;
        _cache = cache;
        _loader = loader;
        _self = new ShardInfo(options.Value.Id, options.Value.Pool, options.Value.BaseUrl ?? new Uri("http://127.0.0.1/"));
        _logger = logger;
    }

    /// <summary>
    /// Reads the pins, pins what is resident, loads the rest (in the pins' order) and returns how many pinned models
    /// this shard holds resident and pinned after it. Runs one at a time (the warm-up at start, then the refresh loop).
    /// </summary>
    public async Task<int> RefreshAsync(CancellationToken cancellationToken)
    {
        await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RefreshOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private async Task<int> RefreshOnceAsync(CancellationToken cancellationToken)
    {
        var mine = new List<(string Key, ModelVersionEntity Entry)>();
        foreach (var (tenant, model) in await _placements.ListPinnedAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                var entry = await _catalog.ResolveAsync(tenant, model, null, cancellationToken).ConfigureAwait(false);
                if (!string.Equals(entry.Pool, _self.Pool, StringComparison.Ordinal))
                {
                    continue;
                }

                var k = await _tenants.GetShuffleShardSizeAsync(tenant, cancellationToken).ConfigureAwait(false);
                if (await _replicas.IsReplicaAsync(tenant, k, entry.Model, _self, cancellationToken).ConfigureAwait(false))
                {
                    mine.Add((ScoringService.CacheKey(entry), entry));
                }
            }
            catch (ServingException e)
            {
                // Pinned but not servable (deleted, retired, no Ready version): nothing to keep loaded.
                LogPinSkipped(tenant, model, e.Error.Message);
            }
        }

        var keys = new string[mine.Count];
        for (var i = 0; i < mine.Count; i++)
        {
            keys[i] = mine[i].Key;
        }

        var overBudget = new HashSet<string>(_cache.SetPins(keys), StringComparer.Ordinal);
        foreach (var (key, entry) in mine)
        {
            if (_cache.Contains(key) || overBudget.Contains(key))
            {
                continue;
            }

            using var lease = await _cache.AcquireAsync(key, ct => _loader.LoadAsync(entry, ct), SessionUse.Warmup, cancellationToken).ConfigureAwait(false);
            if (!_cache.IsPinned(key))
            {
                overBudget.Add(key);
            }
        }

        Report(mine, overBudget);
        return mine.Count - overBudget.Count;
    }

    private void Report(List<(string Key, ModelVersionEntity Entry)> mine, HashSet<string> overBudget)
    {
        foreach (var (key, entry) in mine)
        {
            if (overBudget.Contains(key) && !_reportedOverBudget.Contains(key))
            {
                LogOverBudget(entry.Tenant, entry.Model, entry.Version, _cache.PinnedBytes, _cache.PinnedBudget);
            }
        }

        _reportedOverBudget = overBudget;
        var pinned = mine.Count - overBudget.Count;
        if (pinned != _lastPinned)
        {
            _lastPinned = pinned;
            LogPinned(pinned, mine.Count, _cache.PinnedBytes, _cache.PinnedBudget);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pinned model {Tenant}/{Model} version {Version} is served as an ordinary model here (it may be evicted): the shard's pinned budget is full ({PinnedBytes} of {PinnedBudget} bytes, Shard__PinnedBytes)")]
    private partial void LogOverBudget(string tenant, string model, string version, long pinnedBytes, long pinnedBudget);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Pinned} of {Wanted} models pinned to this shard are resident and pinned ({PinnedBytes} of {PinnedBudget} bytes)")]
    private partial void LogPinned(int pinned, int wanted, long pinnedBytes, long pinnedBudget);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pinned model {Tenant}/{Model} is not kept resident: {Reason}")]
    private partial void LogPinSkipped(string tenant, string model, string reason);
}
