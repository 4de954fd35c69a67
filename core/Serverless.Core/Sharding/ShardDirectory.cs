using Azure.Data.Tables;
using Microsoft.Extensions.Caching.Memory;
using Serverless.Core.Storage;

namespace Serverless.Core.Sharding;

/// <summary>
/// Shard membership in Table <c>shards</c>: shards register and heartbeat; readers get the live,
/// active shards of a pool (a shard that missed <see cref="MissedHeartbeats"/> beats is passed over).
/// </summary>
public sealed class ShardDirectory
{
    public const int MissedHeartbeats = 3;
    private static readonly TimeSpan CacheDuration = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DefaultHeartbeat = TimeSpan.FromSeconds(5);

    /// <summary>How old the newest beat of an Active shard may be for it to be used in panic mode (below).</summary>
    private static readonly TimeSpan PanicWindow = TimeSpan.FromMinutes(10);
    private readonly StorageClients _storage;
    private readonly LastKnownGoodCache _reads;
    private readonly TimeProvider _time;

    public ShardDirectory(StorageClients storage, IMemoryCache cache, TimeProvider time)
    {
        _storage = storage;
        _reads = new LastKnownGoodCache(cache, storage.OutageBreaker, time, storage.RequestWait);
        _time = time;
    }

    /// <summary>Writes (or renews) a shard's row.</summary>
    public Task HeartbeatAsync(string pool, string id, Uri baseUrl, string state, CancellationToken cancellationToken) =>
        HeartbeatAsync(pool, id, baseUrl, state, null, (int)DefaultHeartbeat.TotalSeconds, cancellationToken);

    /// <summary>
    /// Writes (or renews) a shard's row, merging: the hot-model list is written only when given, so a
    /// restarted instance's first beats keep the list its predecessor left for it to prewarm.
    /// </summary>
    public async Task HeartbeatAsync(string pool, string id, Uri baseUrl, string state, string? hotModels, int heartbeatSeconds, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(pool, id)
        {
            [nameof(ShardEntity.BaseUrl)] = baseUrl.ToString().TrimEnd('/'),
            [nameof(ShardEntity.State)] = state,
            [nameof(ShardEntity.LastHeartbeat)] = _time.GetUtcNow(),
            [nameof(ShardEntity.HeartbeatSeconds)] = heartbeatSeconds,
        };
        if (hotModels is not null)
        {
            entity[nameof(ShardEntity.HotModels)] = hotModels;
        }

        await _storage.ShardsTable.UpsertEntityAsync(entity, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One shard's row, or null.</summary>
    public async Task<ShardEntity?> GetAsync(string pool, string id, CancellationToken cancellationToken)
    {
        var response = await _storage.ShardsTable.GetEntityIfExistsAsync<ShardEntity>(pool, id, cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.HasValue ? response.Value : null;
    }

    /// <summary>Removes a shard's row (a clean stop).</summary>
    public async Task RemoveAsync(string pool, string id, CancellationToken cancellationToken) =>
        await _storage.ShardsTable.DeleteEntityAsync(pool, id, cancellationToken: cancellationToken).ConfigureAwait(false);

    /// <summary>The live Active shards of a pool, sorted by id; possibly a moment old.</summary>
    public async ValueTask<IReadOnlyList<ShardInfo>> GetLiveAsync(string pool, CancellationToken cancellationToken)
    {
        // While Table storage is away, the live set last read stands in (LastKnownGoodCache).
        return await _reads.GetOrLoadAsync("shards:" + pool, CacheDuration, absentFor: null, refreshAhead: true, async ct =>
        {
            var all = await ListAsync(pool, ct).ConfigureAwait(false);
            return Live(all, _time.GetUtcNow());
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The Active shards whose last beat is recent enough, sorted by id. When no shard at all qualifies while
    /// Active rows exist, what failed is far more likely the heartbeats (storage away and back, a clock) than
    /// every shard at once: like Envoy's panic threshold, the Active rows beaten within <see cref="PanicWindow"/>
    /// are used, and the router's connection failures and ejection pass over any that really are gone.
    /// </summary>
    public static IReadOnlyList<ShardInfo> Live(IReadOnlyList<ShardEntity> rows, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var live = new List<ShardInfo>(rows.Count);
        foreach (var row in rows)
        {
            // Each shard says how often it beats; rows from before that column default to 5 s.
            var beat = row.HeartbeatSeconds > 0 ? TimeSpan.FromSeconds(row.HeartbeatSeconds) : DefaultHeartbeat;
            if (row.State == ShardStates.Active && row.LastHeartbeat >= now - (beat * MissedHeartbeats) && Uri.TryCreate(row.BaseUrl, UriKind.Absolute, out var url))
            {
                live.Add(new ShardInfo(row.RowKey, row.PartitionKey, url));
            }
        }

        if (live.Count == 0)
        {
            foreach (var row in rows)
            {
                if (row.State == ShardStates.Active && row.LastHeartbeat >= now - PanicWindow && Uri.TryCreate(row.BaseUrl, UriKind.Absolute, out var url))
                {
                    live.Add(new ShardInfo(row.RowKey, row.PartitionKey, url));
                }
            }
        }

        live.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        return live;
    }

    /// <summary>Every row of a pool (or of all pools), live or not.</summary>
    public async Task<IReadOnlyList<ShardEntity>> ListAsync(string? pool, CancellationToken cancellationToken)
    {
        var rows = new List<ShardEntity>();
        var query = pool is null
            ? _storage.ShardsTable.QueryAsync<ShardEntity>(cancellationToken: cancellationToken)
            : _storage.ShardsTable.QueryAsync<ShardEntity>(e => e.PartitionKey == pool, cancellationToken: cancellationToken);
        await foreach (var row in query.ConfigureAwait(false))
        {
            rows.Add(row);
        }

        return rows;
    }
}
