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
    private readonly IMemoryCache _cache;

    public PlacementStore(StorageClients storage, IMemoryCache cache)
    {
        _storage = storage;
        _cache = cache;
    }

    /// <summary>The model's override row, or null when its placement is purely hashed.</summary>
    public async ValueTask<PlacementEntity?> GetAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        var key = ModelNames.ModelKey(tenant, model);
        if (_cache.TryGetValue("placement:" + key, out PlacementEntity? cached))
        {
            return cached;
        }

        var response = await _storage.PlacementsTable.GetEntityIfExistsAsync<PlacementEntity>(key, PlacementEntity.RowKeyValue, cancellationToken: cancellationToken).ConfigureAwait(false);
        var entity = response.HasValue ? response.Value : null;
        _cache.Set("placement:" + key, entity, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = CacheDuration, Size = 1 });
        return entity;
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

                _cache.Remove("placement:" + key);
                return;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Changed under us: read it again; a placement row is never written blind.
            }
        }
    }
}
