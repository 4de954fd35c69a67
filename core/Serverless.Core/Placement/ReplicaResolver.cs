using System.Collections.Concurrent;
using Serverless.Core.Naming;
using Serverless.Core.Sharding;
using Serverless.Core.Tenancy;

namespace Serverless.Core.Placement;

/// <summary>
/// A model's replicas, primary first, among the live shards of its pool: pinned shards of its placement
/// row if any are live, else rendezvous hashing inside the tenant's shuffle shard with the row's replica
/// count (or the default). The router and the alias warm-up both ask here, so they agree.
/// </summary>
/// <remarks>
/// The router asks once per request. The answer only changes when the live-shard list, the placement row or
/// the tenant's shuffle-shard size does, and the cached reads hand back the same objects until they are read
/// again, so the last answer per (tenant, model, pool) is remembered with the objects it was computed from and
/// reused while they are the same ones: no hashing, no arrays per request.
/// </remarks>
public sealed class ReplicaResolver
{
    /// <summary>Remembered answers at most; past it the memo starts over (a bound, not an LRU: recomputing is cheap).</summary>
    public const int MaxRemembered = 50_000;

    private readonly ShardDirectory _shards;
    private readonly PlacementStore _placements;
    private readonly ConcurrentDictionary<(string Tenant, string Model, string Pool), Remembered> _remembered = new();

    public ReplicaResolver(ShardDirectory shards, PlacementStore placements)
    {
        _shards = shards;
        _placements = placements;
    }

    /// <summary>The model's replicas, primary first (empty when the pool has no live shard).</summary>
    public async ValueTask<IReadOnlyList<ShardInfo>> ResolveAsync(string tenant, int shuffleShardSize, string model, string pool, CancellationToken cancellationToken)
    {
        var live = await _shards.GetLiveAsync(pool, cancellationToken).ConfigureAwait(false);
        if (live.Count == 0)
        {
            return [];
        }

        var placement = await _placements.GetAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        var key = (tenant, model, pool);
        if (_remembered.TryGetValue(key, out var last) && ReferenceEquals(last.Live, live) && ReferenceEquals(last.Placement, placement) && last.ShuffleShardSize == shuffleShardSize)
        {
            return last.Replicas;
        }

        var replicas = Compute(tenant, shuffleShardSize, model, live, placement, out _);
        if (_remembered.Count >= MaxRemembered)
        {
            _remembered.Clear();
        }

        _remembered[key] = new Remembered(live, placement, shuffleShardSize, replicas);
        return replicas;
    }

    /// <summary>
    /// Starts reading the model's placement row, for a caller about to resolve replicas after a registry read
    /// of its own: the two storage reads of a model's first request then overlap instead of queueing.
    /// </summary>
    public void Prefetch(string tenant, string model) => _ = PrefetchAsync(tenant, model);

    /// <summary>The replicas and why: pinned by a placement row, or hashed (with the replica count's source).</summary>
    public async ValueTask<(IReadOnlyList<ShardInfo> Replicas, string Reason)> ExplainAsync(string tenant, int shuffleShardSize, string model, string pool, CancellationToken cancellationToken)
    {
        var live = await _shards.GetLiveAsync(pool, cancellationToken).ConfigureAwait(false);
        if (live.Count == 0)
        {
            return ([], $"no live shard in pool '{pool}'");
        }

        var placement = await _placements.GetAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        var replicas = Compute(tenant, shuffleShardSize, model, live, placement, out var reason);
        return (replicas, reason());
    }

    private async Task PrefetchAsync(string tenant, string model)
    {
        try
        {
            await _placements.GetAsync(tenant, model, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Only a head start: the request's own read reports whatever went wrong.
        }
    }

    /// <summary>
    /// Whether <paramref name="self"/> is one of the model's replicas, counting it live: a shard asks this about itself,
    /// also while it starts, before its own heartbeat row is among the live ones it reads back.
    /// </summary>
    public async ValueTask<bool> IsReplicaAsync(string tenant, int shuffleShardSize, string model, ShardInfo self, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(self);
        var live = await _shards.GetLiveAsync(self.Pool, cancellationToken).ConfigureAwait(false);
        if (Find(live, self.Id) is null)
        {
            live = [.. live, self];
        }

        var placement = await _placements.GetAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        return Find(Compute(tenant, shuffleShardSize, model, live, placement, out _), self.Id) is not null;
    }

    private static ShardInfo[] Compute(string tenant, int shuffleShardSize, string model, IReadOnlyList<ShardInfo> live, PlacementEntity? placement, out Func<string> reason)
    {
        var result = new List<ShardInfo>();
        if (placement is not null && !string.IsNullOrEmpty(placement.Shards))
        {
            foreach (var id in placement.Shards.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (Find(live, id) is { } pinned)
                {
                    result.Add(pinned);
                }
            }

            if (result.Count > 0)
            {
                reason = () => $"pinned by placement row to {placement.Shards} ({placement.Reason})";
                return [.. result];
            }
        }

        var ids = new string[live.Count];
        for (var i = 0; i < live.Count; i++)
        {
            ids[i] = live[i].Id;
        }

        var replicas = placement is { Replicas: > 0 } ? placement.Replicas : PlacementDefaults.Replicas;
        foreach (var id in RendezvousPlacement.SelectReplicas(tenant, ModelNames.ModelKey(tenant, model), ids, shuffleShardSize, replicas))
        {
            result.Add(Find(live, id)!);
        }

        // Words only for the placement endpoint: the router's per-request path never builds them.
        reason = () =>
        {
            var count = placement is { Replicas: > 0 } ? $"{replicas} replica(s) from its placement row ({placement.Reason})" : $"{replicas} replica(s) by default";
            return $"rendezvous hashing inside the tenant's shuffle shard of {shuffleShardSize} of {live.Count} live shards; {count}";
        };
        return [.. result];
    }

    private static ShardInfo? Find(IReadOnlyList<ShardInfo> shards, string id)
    {
        foreach (var shard in shards)
        {
            if (shard.Id == id)
            {
                return shard;
            }
        }

        return null;
    }

    /// <summary>One remembered answer and the objects it was computed from.</summary>
    private sealed record Remembered(IReadOnlyList<ShardInfo> Live, PlacementEntity? Placement, int ShuffleShardSize, ShardInfo[] Replicas);
}
