using Azure;
using Azure.Data.Tables;
using Serverless.Core.Naming;
using Serverless.Routing;
using Serverless.Core.Storage;
using Serverless.Core.Registry;

namespace Serverless.Publishing;

/// <summary>
/// Aliases, retirement and deletion of model versions. An alias row changes only with ETag concurrency
/// (never blind), and an alias is moved only after its target is warm on the replicas. A version an alias
/// points at can be neither retired nor deleted: move the alias first (that is the rollback).
/// </summary>
public sealed class ModelLifecycle
{
    private readonly StorageClients _storage;
    private readonly ModelRegistry _registry;
    private readonly ReplicaWarmer _warmer;
    private readonly TimeProvider _time;

    public ModelLifecycle(StorageClients storage, ModelRegistry registry, ReplicaWarmer warmer, TimeProvider time)
    {
        _storage = storage;
        _registry = registry;
        _warmer = warmer;
        _time = time;
    }

    /// <summary>Points <paramref name="alias"/> at a Ready version, warming it on its replicas first.</summary>
    public async Task<AliasMove> MoveAliasAsync(string tenant, string model, string alias, string version, bool warm, CancellationToken cancellationToken)
    {
        ModelNames.Validate(tenant, model, version);
        if (ModelAliases.Check(alias) is { } aliasError)
        {
            throw new ArgumentException(aliasError, nameof(alias));
        }

        var target = await RequireAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        if (target.State != ModelStates.Ready)
        {
            throw new InvalidOperationException($"model '{model}' version '{version}' is {target.State}, not Ready: an alias can only point at a Ready version");
        }

        var warmed = warm ? await _warmer.WarmAsync(target, cancellationToken).ConfigureAwait(false) : [];
        var previous = await WriteAliasAsync(tenant, model, alias, version, cancellationToken).ConfigureAwait(false);
        return new AliasMove(alias, previous, version, warmed);
    }

    /// <summary>Marks a version Retired: it answers 404 saying so; its bytes stay until deleted.</summary>
    public async Task RetireAsync(string tenant, string model, string version, CancellationToken cancellationToken)
    {
        ModelNames.Validate(tenant, model, version);
        var row = await RequireAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        await RefuseIfAliasedAsync(row, "retire", cancellationToken).ConfigureAwait(false);
        row.State = ModelStates.Retired;
        await _storage.ModelsTable.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        await _registry.ChangedAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        await UpdateLatestAsync(tenant, model, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a version: its registry row, its served bytes and its dropped files.</summary>
    public async Task DeleteAsync(string tenant, string model, string version, CancellationToken cancellationToken)
    {
        ModelNames.Validate(tenant, model, version);
        var row = await RequireAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        await RefuseIfAliasedAsync(row, "delete", cancellationToken).ConfigureAwait(false);
        // Row first: once it is gone nothing resolves to the bytes, so deleting them cannot break a request.
        await _storage.ModelsTable.DeleteEntityAsync(row.PartitionKey, row.RowKey, row.ETag, cancellationToken).ConfigureAwait(false);
        await _registry.ChangedAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(row.BlobName))
        {
            await _storage.Models.DeleteBlobIfExistsAsync(row.BlobName, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        var drop = ModelNames.DropBlobName(tenant, model, version);
        await _storage.Drop.DeleteBlobIfExistsAsync(drop, cancellationToken: cancellationToken).ConfigureAwait(false);
        await _storage.Drop.DeleteBlobIfExistsAsync(drop[..drop.LastIndexOf('/')] + "/model.json", cancellationToken: cancellationToken).ConfigureAwait(false);
        await UpdateLatestAsync(tenant, model, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Points <c>latest</c> at the highest Ready version, or removes it when there is none.</summary>
    public async Task UpdateLatestAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        _registry.Invalidate(tenant, model);
        var rows = await _registry.GetRowsAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        var ready = ModelRegistry.ReadyVersions(rows);
        if (ready.Count == 0)
        {
            await _storage.ModelsTable.DeleteEntityAsync(ModelNames.ModelKey(tenant, model), ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias, ETag.All, cancellationToken).ConfigureAwait(false);
            await _registry.ChangedAsync(tenant, model, cancellationToken).ConfigureAwait(false);
            return;
        }

        await WriteAliasAsync(tenant, model, ModelRegistry.LatestAlias, ready[0], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes an alias row with ETag concurrency; returns the version it pointed at before.</summary>
    private async Task<string?> WriteAliasAsync(string tenant, string model, string alias, string version, CancellationToken cancellationToken)
    {
        var key = ModelNames.ModelKey(tenant, model);
        var rowKey = ModelVersionEntity.AliasPrefix + alias;
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var existing = await _storage.ModelsTable.GetEntityIfExistsAsync<ModelVersionEntity>(key, rowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
                try
                {
                    if (existing.HasValue && existing.Value is { } row)
                    {
                        var previous = row.Version;
                        row.Version = version;
                        row.PublishedAt = _time.GetUtcNow();
                        await _storage.ModelsTable.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                        return previous;
                    }

                    await _storage.ModelsTable.AddEntityAsync(
                        new ModelVersionEntity { PartitionKey = key, RowKey = rowKey, Tenant = tenant, Model = model, Version = version, State = ModelStates.Ready, PublishedAt = _time.GetUtcNow() },
                        cancellationToken).ConfigureAwait(false);
                    return null;
                }
                catch (RequestFailedException e) when (e.Status is 409 or 412 && attempt < 10)
                {
                    // Someone moved it between our read and write: read again and decide on fresh data.
                }
            }
        }
        finally
        {
            // Also after a failed attempt: a write may have landed before the failure.
            await _registry.ChangedAsync(tenant, model, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task<ModelVersionEntity> RequireAsync(string tenant, string model, string version, CancellationToken cancellationToken) =>
        await _registry.GetAsync(tenant, model, version, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"model '{model}' has no version '{version}'");

    private async Task RefuseIfAliasedAsync(ModelVersionEntity row, string action, CancellationToken cancellationToken)
    {
        _registry.Invalidate(row.Tenant, row.Model);
        foreach (var alias in await _registry.GetRowsAsync(row.Tenant, row.Model, cancellationToken).ConfigureAwait(false))
        {
            if (alias.IsAlias && alias.Version == row.RowKey && alias.RowKey != ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias)
            {
                throw new InvalidOperationException($"cannot {action} version '{row.RowKey}' of model '{row.Model}': alias '{alias.RowKey[1..]}' points at it; move the alias first");
            }
        }
    }
}
