using Azure;
using Microsoft.Extensions.Caching.Memory;
using Serverless.Core.Naming;
using Serverless.Core.Storage;

namespace Serverless.Core.Placement;

/// <summary>Placement overrides in Table <c>placements</c>, cached briefly on the request path.</summary>
public sealed class PlacementStore
{
    private static readonly TimeSpan CacheDuration = TimeSpan.FromSeconds(2);
    private readonly StorageClients _storage;
    private readonly LastKnownGoodCache _reads;

    public PlacementStore(StorageClients storage, IMemoryCache cache, TimeProvider time)
    {
        _storage = storage;
        _reads = new LastKnownGoodCache(cache, storage.OutageBreaker, time, storage.RequestWait);
    }

    /// <summary>The model's override row, or null when its placement is purely hashed.</summary>
    /// <remarks>
    /// From one snapshot of the whole table, read again every <see cref="CacheDuration"/> (refreshed ahead, off the
    /// request path): the table has a row only per overridden model, so the snapshot is small whatever the fleet, and a
    /// process costs storage one query per refresh instead of a point read per model in use per refresh (at 100,000
    /// models a zipf mix kept thousands of models in use: most of the shards' and router's storage reads; issue 17).
    /// While Table storage is away the last snapshot stands in, so hashing goes on as it was.
    /// </remarks>
    public async ValueTask<PlacementEntity?> GetAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        var key = ModelNames.ModelKey(tenant, model);
        var all = await _reads.GetOrLoadAsync(SnapshotKey, CacheDuration, absentFor: null, refreshAhead: true, ReadAllAsync, cancellationToken).ConfigureAwait(false);
        return all.TryGetValue(key, out var row) ? row : null;
    }

    private const string SnapshotKey = "placements:all";

    private async Task<IReadOnlyDictionary<string, PlacementEntity>> ReadAllAsync(CancellationToken cancellationToken)
    {
        var rows = new Dictionary<string, PlacementEntity>(StringComparer.Ordinal);
        await foreach (var row in _storage.PlacementsTable.QueryAsync<PlacementEntity>(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (row.RowKey == PlacementEntity.RowKeyValue)
            {
                rows[row.PartitionKey] = row;
            }
        }

        return rows;
    }

    /// <summary>
    /// Pins the model resident on its replicas, or unpins it, with ETag concurrency as <see cref="SetReplicasAsync"/>;
    /// the row's other fields are kept (unpinning leaves a row that overrides nothing, read as hashed placement).
    /// </summary>
    public async Task SetMinResidentAsync(string tenant, string model, bool minResident, CancellationToken cancellationToken)
    {
        ModelNames.Validate(tenant, model);
        var key = ModelNames.ModelKey(tenant, model);
        while (true)
        {
            var existing = await _storage.PlacementsTable.GetEntityIfExistsAsync<PlacementEntity>(key, PlacementEntity.RowKeyValue, cancellationToken: cancellationToken).ConfigureAwait(false);
            try
            {
                if (existing.HasValue && existing.Value is { } row)
                {
                    row.MinResident = minResident;
                    await _storage.PlacementsTable.UpdateEntityAsync(row, row.ETag, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                else if (minResident)
                {
                    await _storage.PlacementsTable.AddEntityAsync(new PlacementEntity { PartitionKey = key, MinResident = true, Reason = "pin" }, cancellationToken).ConfigureAwait(false);
                }

                _reads.Expire<IReadOnlyDictionary<string, PlacementEntity>>(SnapshotKey);
                return;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Changed under us: read it again; a placement row is never written blind.
            }
        }
    }

    /// <summary>
    /// The models pinned resident, as (tenant, model), from the same snapshot of Table <c>placements</c> that
    /// <see cref="GetAsync"/> answers from (a row only per overridden model): a shard asks every few seconds which of
    /// its models to keep loaded, and costs storage no query of its own for it.
    /// </summary>
    public async Task<IReadOnlyList<(string Tenant, string Model)>> ListPinnedAsync(CancellationToken cancellationToken)
    {
        var pinned = new List<(string Tenant, string Model)>();
        var all = await _reads.GetOrLoadAsync(SnapshotKey, CacheDuration, absentFor: null, refreshAhead: true, ReadAllAsync, cancellationToken).ConfigureAwait(false);
        foreach (var row in all.Values)
        {
            var tilde = row.PartitionKey.IndexOf('~', StringComparison.Ordinal);
            if (row.MinResident && tilde > 0)
            {
                pinned.Add((row.PartitionKey[..tilde], row.PartitionKey[(tilde + 1)..]));
            }
        }

        return pinned;
    }

    /// <summary>Sets the model's replica count, with ETag concurrency (read, change, write if unchanged).</summary>
    public async Task SetReplicasAsync(string tenant, string model, int replicas, string reason, CancellationToken cancellationToken)
    {
        ModelNames.Validate(tenant, model);
        if (replicas < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(replicas), replicas, "replicas must be at least 1");
        }

        var key = ModelNames.ModelKey(tenant, model);
        while (true)
        {
            var existing = await _storage.PlacementsTable.GetEntityIfExistsAsync<PlacementEntity>(key, PlacementEntity.RowKeyValue, cancellationToken: cancellationToken).ConfigureAwait(false);
            try
            {
                if (existing.HasValue && existing.Value is { } row)
                {
                    row.Replicas = replicas;
                    row.Reason = reason;
                    await _storage.PlacementsTable.UpdateEntityAsync(row, row.ETag, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _storage.PlacementsTable.AddEntityAsync(new PlacementEntity { PartitionKey = key, Replicas = replicas, Reason = reason }, cancellationToken).ConfigureAwait(false);
                }

                _reads.Expire<IReadOnlyDictionary<string, PlacementEntity>>(SnapshotKey);
                return;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Changed under us: read it again; a placement row is never written blind.
            }
        }
    }
}
