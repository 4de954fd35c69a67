using Serverless.Core.Naming;
using Serverless.Core.Sharding;
using Serverless.Core.Tenancy;

namespace Serverless.Core.Placement;

/// <summary>
/// A model's replicas, primary first, among the live shards of its pool: pinned shards of its placement
/// row if any are live, else rendezvous hashing inside the tenant's shuffle shard with the row's replica
/// count (or the default). The router and the alias warm-up both ask here, so they agree.
/// </summary>
public sealed class ReplicaResolver
{
    private readonly ShardDirectory _shards;
    private readonly PlacementStore _placements;

    public ReplicaResolver(ShardDirectory shards, PlacementStore placements)
    {
        _shards = shards;
        _placements = placements;
    }

    public async ValueTask<IReadOnlyList<ShardInfo>> ResolveAsync(string tenant, int shuffleShardSize, string model, string pool, CancellationToken cancellationToken) =>
        (await ExplainAsync(tenant, shuffleShardSize, model, pool, cancellationToken).ConfigureAwait(false)).Replicas;

    /// <summary>The replicas and why: pinned by a placement row, or hashed (with the replica count's source).</summary>
    public async ValueTask<(IReadOnlyList<ShardInfo> Replicas, string Reason)> ExplainAsync(string tenant, int shuffleShardSize, string model, string pool, CancellationToken cancellationToken)
    {
        var live = await _shards.GetLiveAsync(pool, cancellationToken).ConfigureAwait(false);
        if (live.Count == 0)
        {
            return ([], $"no live shard in pool '{pool}'");
        }

        var placement = await _placements.GetAsync(tenant, model, cancellationToken).ConfigureAwait(false);
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
                return (result, $"pinned by placement row to {placement.Shards} ({placement.Reason})");
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

        var count = placement is { Replicas: > 0 } ? $"{replicas} replica(s) from its placement row ({placement.Reason})" : $"{replicas} replica(s) by default";
        return (result, $"rendezvous hashing inside the tenant's shuffle shard of {shuffleShardSize} of {live.Count} live shards; {count}");
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
}
