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

    /// <summary>How often a write that met a concurrent one (409, 412) reads again and decides again before it gives up.</summary>
    private const int MaxAttempts = 10;

    public ModelLifecycle(StorageClients storage, ModelRegistry registry, ReplicaWarmer warmer, TimeProvider time)
    {
        _storage = storage;
        _registry = registry;
        _warmer = warmer;
        _time = time;
    }

    /// <summary>
    /// Points <paramref name="alias"/> at a Ready version, warming it on its replicas first. The warm-up can take up to a
    /// minute, so nothing checked before it is trusted after it: the version is read again and must still be Ready, the
    /// alias must still point where it did (else someone else moved it meanwhile, and their move stands), and the alias
    /// is written in one transaction with a conditional write of the version's row, so a retire or delete of the version
    /// that lands in between makes one of the two fail its ETag check: never an alias on a version that is gone.
    /// </summary>
    public async Task<AliasMove> MoveAliasAsync(string tenant, string model, string alias, string version, bool warm, CancellationToken cancellationToken)
    {
        ModelNames.Validate(tenant, model, version);
        if (ModelAliases.Check(alias) is { } aliasError)
        {
            throw new ArgumentException(aliasError, nameof(alias));
        }

        var target = await RequireAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        RequireReady(target);
        var before = await ReadAliasAsync(tenant, model, alias, cancellationToken).ConfigureAwait(false);
        var warmed = warm ? await _warmer.WarmAsync(target, cancellationToken).ConfigureAwait(false) : [];
        var previous = await PointAliasAsync(tenant, model, alias, version, expected: (before?.Version, true), cancellationToken).ConfigureAwait(false);
        return new AliasMove(alias, previous, version, warmed);
    }

    /// <summary>
    /// Marks a version Retired: it answers 404 saying so; its bytes stay until deleted. Refused while an alias (other than
    /// <c>latest</c>) points at it, naming the alias; written under the row's ETag, read before the aliases were.
    /// </summary>
    public async Task RetireAsync(string tenant, string model, string version, CancellationToken cancellationToken)
    {
        ModelNames.Validate(tenant, model, version);
        for (var attempt = 0; ; attempt++)
        {
            var row = await RequireAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
            if (row.State == ModelStates.Rejected)
            {
                throw new InvalidOperationException($"cannot retire version '{version}' of model '{model}': it is Rejected ({row.Error}), so nothing is served to retire; delete it instead");
            }

            await RefuseIfAliasedAsync(row, "retire", cancellationToken).ConfigureAwait(false);
            row.State = ModelStates.Retired;
            try
            {
                await _storage.ModelsTable.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (RequestFailedException e) when (e.Status is 404 or 412 && attempt < MaxAttempts)
            {
                // The row changed after it was read (an alias move wrote it, or a refused drop was noted on it): the
                // aliases are read again and the decision taken again on fresh rows.
            }
        }

        await _registry.ChangedAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        await UpdateLatestAsync(tenant, model, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes a version: its registry row, its served bytes and its dropped files. Refused while an alias (other than
    /// <c>latest</c>) points at it, naming the alias; the row is deleted under its ETag, read before the aliases were.
    /// </summary>
    public async Task DeleteAsync(string tenant, string model, string version, CancellationToken cancellationToken)
    {
        ModelNames.Validate(tenant, model, version);
        ModelVersionEntity row;
        for (var attempt = 0; ; attempt++)
        {
            row = await RequireAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
            await RefuseIfAliasedAsync(row, "delete", cancellationToken).ConfigureAwait(false);
            try
            {
                // Row first: once it is gone nothing resolves to the bytes, so deleting them cannot break a request.
                await _storage.ModelsTable.DeleteEntityAsync(row.PartitionKey, row.RowKey, row.ETag, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (RequestFailedException e) when (e.Status is 404 or 412 && attempt < MaxAttempts)
            {
                // Changed since it was read (an alias move may have just pointed at it): read again, decide again.
            }
        }

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

    /// <summary>
    /// Points <c>latest</c> at the highest Ready version, or removes it when there is none. Decided on rows read straight
    /// from storage and written under their ETags (the alias's and the version's), so two of these racing, or one racing
    /// a delete, end on what is there, not on what one of them read before the other wrote.
    /// </summary>
    public async Task UpdateLatestAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        var key = ModelNames.ModelKey(tenant, model);
        // Whether a write was attempted: only then do readers need a new epoch. An idempotent re-delivery of a drop ends
        // here with `latest` already right, and bumping the epoch for it made every router and shard drop what it
        // knew of the tenant (its name index, re-read with a range query over all its rows, and every kept registry
        // row): measured, a bulk publish's re-deliveries (~1 a second) kept Azurite saturated and misses at p50 ~300 ms.
        var wrote = false;
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var versions = new List<ModelVersionEntity>();
                ModelVersionEntity? latest = null;
                await foreach (var row in _storage.ModelsTable.QueryAsync<ModelVersionEntity>(e => e.PartitionKey == key, cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    if (row.RowKey == ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias)
                    {
                        latest = row;
                    }
                    else if (!row.IsAlias)
                    {
                        versions.Add(row);
                    }
                }

                var ready = ModelRegistry.ReadyVersions(versions);
                try
                {
                    if (ready.Count == 0)
                    {
                        if (latest is not null)
                        {
                            wrote = true;
                            await _storage.ModelsTable.DeleteEntityAsync(key, latest.RowKey, latest.ETag, cancellationToken).ConfigureAwait(false);
                        }

                        return;
                    }

                    if (latest?.Version == ready[0])
                    {
                        return;
                    }

                    wrote = true;
                    await WriteAliasAsync(tenant, model, ModelRegistry.LatestAlias, latest, versions.First(v => v.RowKey == ready[0]), cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (RequestFailedException e) when (e.Status is 404 or 409 or 412 && attempt < MaxAttempts)
                {
                    // Another writer was first: read again and decide on fresh rows.
                }
            }
        }
        finally
        {
            // Also after a failed attempt: a write may have landed before the failure.
            if (wrote)
            {
                await _registry.ChangedAsync(tenant, model, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Writes an alias at a version after reading both again; returns the version the alias pointed at before. With
    /// <paramref name="expected"/> known, refuses when the alias no longer points where it did when the caller decided.
    /// </summary>
    private async Task<string?> PointAliasAsync(string tenant, string model, string alias, string version, (string? Version, bool Known) expected, CancellationToken cancellationToken)
    {
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var target = await RequireAsync(tenant, model, version, cancellationToken, "it was deleted while the alias move was in progress").ConfigureAwait(false);
                RequireReady(target);
                var current = await ReadAliasAsync(tenant, model, alias, cancellationToken).ConfigureAwait(false);
                if (expected.Known && current?.Version != expected.Version && current?.Version != version)
                {
                    throw new InvalidOperationException($"alias '{alias}' of model '{model}' was moved to version '{current?.Version ?? "(none)"}' by someone else while version '{version}' was warming (it pointed at '{expected.Version ?? "(none)"}' before); their move stands: run this one again to point it at '{version}'");
                }

                try
                {
                    await WriteAliasAsync(tenant, model, alias, current, target, cancellationToken).ConfigureAwait(false);
                    return current?.Version;
                }
                catch (RequestFailedException e) when (e.Status is 404 or 409 or 412)
                {
                    if (attempt >= MaxAttempts)
                    {
                        throw new InvalidOperationException($"alias '{alias}' of model '{model}' or its version '{version}' changed {MaxAttempts} times while the alias was moved; nothing was written, try again", e);
                    }

                    // Someone wrote the alias or the version between our reads and our write: read both again.
                }
            }
        }
        finally
        {
            // Also after a failed attempt: a write may have landed before the failure.
            await _registry.ChangedAsync(tenant, model, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One transaction (the alias and its version share a partition): the alias row written under the ETag it was read
    /// with (inserted when it was absent), and the version's row merged with nothing under its ETag. That second write
    /// changes nothing in the row but its ETag, so a retire or delete that read the row before the alias was written
    /// fails its own conditional write and reads the aliases again; and this transaction fails (412/404) when the
    /// version changed or went first. Throws <see cref="RequestFailedException"/> (404, 409, 412) on a conflict.
    /// </summary>
    private async Task WriteAliasAsync(string tenant, string model, string alias, ModelVersionEntity? current, ModelVersionEntity target, CancellationToken cancellationToken)
    {
        var key = ModelNames.ModelKey(tenant, model);
        var row = new ModelVersionEntity
        {
            PartitionKey = key,
            RowKey = ModelVersionEntity.AliasPrefix + alias,
            Tenant = tenant,
            Model = model,
            Version = target.RowKey,
            State = ModelStates.Ready,
            PublishedAt = _time.GetUtcNow(),
        };
        TableTransactionAction[] actions =
        [
            current is null
                ? new TableTransactionAction(TableTransactionActionType.Add, row)
                : new TableTransactionAction(TableTransactionActionType.UpdateReplace, row, current.ETag),
            new TableTransactionAction(TableTransactionActionType.UpdateMerge, new TableEntity(key, target.RowKey), target.ETag),
        ];
        await _storage.ModelsTable.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ModelVersionEntity?> ReadAliasAsync(string tenant, string model, string alias, CancellationToken cancellationToken)
    {
        var row = await _storage.ModelsTable.GetEntityIfExistsAsync<ModelVersionEntity>(ModelNames.ModelKey(tenant, model), ModelVersionEntity.AliasPrefix + alias, cancellationToken: cancellationToken).ConfigureAwait(false);
        return row.HasValue ? row.Value : null;
    }

    private static void RequireReady(ModelVersionEntity target)
    {
        if (target.State != ModelStates.Ready)
        {
            throw new InvalidOperationException($"model '{target.Model}' version '{target.RowKey}' is {target.State}, not Ready: an alias can only point at a Ready version");
        }
    }

    private async Task<ModelVersionEntity> RequireAsync(string tenant, string model, string version, CancellationToken cancellationToken, string? why = null) =>
        await _registry.GetAsync(tenant, model, version, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"model '{model}' has no version '{version}'" + (why is null ? "" : $": {why}"));

    /// <summary>Refuses, naming the alias, when one other than <c>latest</c> points at the version. Read after the version row.</summary>
    private async Task RefuseIfAliasedAsync(ModelVersionEntity row, string action, CancellationToken cancellationToken)
    {
        foreach (var alias in await _registry.GetAliasRowsAsync(row.Tenant, row.Model, cancellationToken).ConfigureAwait(false))
        {
            if (alias.Version == row.RowKey && alias.RowKey != ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias)
            {
                throw new InvalidOperationException($"cannot {action} version '{row.RowKey}' of model '{row.Model}': alias '{alias.RowKey[1..]}' points at it; move the alias first");
            }
        }
    }
}
