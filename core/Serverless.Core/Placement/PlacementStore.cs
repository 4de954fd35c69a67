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
    public async ValueTask<PlacementEntity?> GetAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        var key = ModelNames.ModelKey(tenant, model);
        // "No override row" is kept as well as a row: while Table storage is away, hashing goes on as it was.
        return await _reads.GetOrLoadAsync("placement:" + key, CacheDuration, absentFor: null, refreshAhead: true, async ct =>
        {
            var response = await _storage.PlacementsTable.GetEntityIfExistsAsync<PlacementEntity>(key, PlacementEntity.RowKeyValue, cancellationToken: ct).ConfigureAwait(false);
            return response.HasValue ? response.Value : null;
        }, cancellationToken).ConfigureAwait(false);
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

                _reads.Expire<PlacementEntity?>("placement:" + key);
                return;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Changed under us: read it again; a placement row is never written blind.
            }
        }
    }

    /// <summary>
    /// The models pinned resident, as (tenant, model): one query of Table <c>placements</c> (a row only per overridden
    /// model), which a shard runs every few seconds to learn which of its models to keep loaded.
    /// </summary>
    public async Task<IReadOnlyList<(string Tenant, string Model)>> ListPinnedAsync(CancellationToken cancellationToken)
    {
        var pinned = new List<(string Tenant, string Model)>();
        await foreach (var row in _storage.PlacementsTable.QueryAsync<PlacementEntity>(filter: "MinResident eq true", select: ["PartitionKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var tilde = row.PartitionKey.IndexOf('~', StringComparison.Ordinal);
            if (tilde > 0)
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

                _reads.Expire<PlacementEntity?>("placement:" + key);
                return;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Changed under us: read it again; a placement row is never written blind.
            }
        }
    }
}
