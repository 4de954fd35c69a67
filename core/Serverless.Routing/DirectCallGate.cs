using Microsoft.Extensions.Options;
using Serverless.Core.Placement;
using Serverless.Core.Registry;
using Serverless.Core.Serving;
using Serverless.Core.Sharding;
using Serverless.Core.Tenancy;

namespace Serverless.Routing;

/// <summary>
/// Direct mode inside the rules (docs/placement.md, "Direct mode"): a shard (or the GPU app) serves a client that
/// called it with its own API key only for a model this shard is a replica of, as the router would choose it
/// (its pool, the tenant's shuffle shard, a placement row's pins or scaled-out replicas), and within the
/// tenant's quota, applied here per shard. So a stolen or buggy key reaches only the tenant's own shards, cannot
/// wake the GPU app for a CPU model, and cannot send unbounded traffic past the router's quota.
/// </summary>
public sealed class DirectCallGate : IDisposable
{
    private readonly ModelCatalog _catalog;
    private readonly ReplicaResolver _replicas;
    private readonly TenantRateLimiter _quota;
    private readonly string _shardId;

    public DirectCallGate(ModelCatalog catalog, ReplicaResolver replicas, IOptions<ShardOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _catalog = catalog;
        _replicas = replicas;
        _shardId = options.Value.Id;
        // The whole quota per shard: a tenant's direct traffic to one model goes to that model's replicas, so a
        // share would throttle it below its quota; its reach is bounded by its shuffle shard instead.
        _quota = new TenantRateLimiter(options.Value.DefaultTenantRequestsPerSecond, instances: null);
    }

    /// <summary>Null when this shard serves the call; else the error to answer (429 over the quota, 404 not a replica here).</summary>
    public async ValueTask<ServingError?> CheckAsync(Tenant tenant, string model, string? version, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        if (_quota.TryAcquire(tenant) is { } retryAfter)
        {
            return TenantRateLimiter.OverQuota(tenant, retryAfter);
        }

        ModelVersionEntity entry;
        try
        {
            entry = await _catalog.ResolveAsync(tenant.Name, model, version, cancellationToken).ConfigureAwait(false);
        }
        catch (ServingException e)
        {
            return e.Error;
        }

        var replicas = await _replicas.ResolveAsync(tenant.Name, tenant.ShuffleShardSize, entry.Model, entry.Pool, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < replicas.Count; i++)
        {
            if (replicas[i].Id == _shardId)
            {
                return null;
            }
        }

        // 404 as for a model the tenant does not have: this shard does not serve it to this tenant.
        return ServingError.NotFound($"model '{model}' is not served by '{_shardId}' for this tenant; read its replicas from the router (GET /v2/models/{model}/placement) or call through the router");
    }

    public void Dispose() => _quota.Dispose();
}
