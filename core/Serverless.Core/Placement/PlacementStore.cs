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
