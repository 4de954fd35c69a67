using System.Text.Json;
using Microsoft.Extensions.Caching.Memory;
using Serverless.Core.Naming;
using Serverless.Core.Protocol;
using Serverless.Core.Storage;

namespace Serverless.Core.Registry;

/// <summary>
/// The model registry in Table <c>models</c>. Reads of a model's rows are cached for a moment so the
/// request path makes at most one storage call per model per <see cref="CacheDuration"/>, and for a model in
/// steady use that call is made in the background (refresh-ahead), never on a request's path.
/// </summary>
public sealed class ModelRegistry
{
    public const string ProductionAlias = "production";
    public const string LatestAlias = "latest";
    private static readonly TimeSpan CacheDuration = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long rows read under a tenant's registry epoch stay valid while the epoch holds (<see cref="RegistryEpochs"/>):
    /// the bound on how long a change whose writer failed to bump the epoch can go unseen.
    /// </summary>
    public static readonly TimeSpan EpochValidity = TimeSpan.FromSeconds(60);

    private readonly StorageClients _storage;
    private readonly LastKnownGoodCache _reads;
    private readonly RegistryEpochs? _epochs;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _localWrites = new(StringComparer.Ordinal);

    /// <summary>Without change notification: rows are re-read after their 2 s freshness (tools, tests).</summary>
    public ModelRegistry(StorageClients storage, IMemoryCache cache, TimeProvider time)
        : this(storage, cache, null, time)
    {
    }

    /// <summary>With change notification: rows stay valid while their tenant's epoch does (the apps).</summary>
    public ModelRegistry(StorageClients storage, IMemoryCache cache, RegistryEpochs? epochs, TimeProvider time)
    {
        _storage = storage;
        _epochs = epochs;
        _reads = new LastKnownGoodCache(cache, storage.OutageBreaker, time, storage.RequestWait);
    }

    /// <summary>All rows (versions and aliases) of one model, possibly a moment old.</summary>
    public async ValueTask<IReadOnlyList<ModelVersionEntity>> GetRowsAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        var key = ModelNames.ModelKey(tenant, model);
        // While Table storage is away, the rows last read stand in (LastKnownGoodCache): resident models keep serving.
        Func<string?>? stamp = _epochs is { } epochs ? () => epochs.Current(tenant) : null;
        return await _reads.GetOrLoadAsync("registry:" + key, CacheDuration, absentFor: null, refreshAhead: true, stamp, EpochValidity, async ct =>
        {
            var rows = new List<ModelVersionEntity>();
            await foreach (var row in _storage.ModelsTable.QueryAsync<ModelVersionEntity>(e => e.PartitionKey == key, cancellationToken: ct).ConfigureAwait(false))
            {
                rows.Add(row);
            }

            return (IReadOnlyList<ModelVersionEntity>)rows;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The version a request means: the one named, else the <c>production</c> alias, else the highest
    /// Ready version. Null when there is none (the caller answers 404).
    /// </summary>
    /// <remarks>
    /// By point reads of rows (the alias, then the version), each cached as <see cref="GetRowsAsync"/>'s rows are: a
    /// query of the model's partition costs Azure little, but Azurite answers every query, even one of a single
    /// partition, by testing every row of the table in an interpreter, so at 100,000 models each miss's query took a
    /// large share of the emulator's one thread (issue 17); a point read is an index lookup in both. A model with
    /// neither a <c>production</c> nor a <c>latest</c> alias (only rejected versions, or a publish cut short before
    /// its alias, which the next publish or <c>fsck</c> repairs) is decided on all its rows, as before.
    /// </remarks>
    public async ValueTask<ModelVersionEntity?> ResolveAsync(string tenant, string model, string? version, CancellationToken cancellationToken)
    {
        var key = ModelNames.ModelKey(tenant, model);
        if (_reads.TryGetKnown<IReadOnlyList<ModelVersionEntity>>("registry:" + key, out _))
        {
            // All the model's rows are held already (its metadata was asked for): they answer, a version they lack included.
            return await ResolveFromRowsAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        }

        string? target;
        if (version is null)
        {
            target = (await ReadRowAsync(tenant, key, ModelVersionEntity.AliasPrefix + ProductionAlias, cancellationToken).ConfigureAwait(false))?.Version
                ?? (await ReadRowAsync(tenant, key, ModelVersionEntity.AliasPrefix + LatestAlias, cancellationToken).ConfigureAwait(false))?.Version;
        }
        else if (ModelNames.IsValidVersion(version))
        {
            target = version;
        }
        else
        {
            // An alias in the version's place (/versions/production/infer) means the version it points at.
            target = ModelNames.IsTableKeySafe(version)
                ? (await ReadRowAsync(tenant, key, ModelVersionEntity.AliasPrefix + version, cancellationToken).ConfigureAwait(false))?.Version
                : null;
            if (target is null)
            {
                return null;
            }
        }

        if (target is not null)
        {
            return await ReadRowAsync(tenant, key, target, cancellationToken).ConfigureAwait(false) is { IsAlias: false } row ? row : null;
        }

        return await ResolveFromRowsAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One row of a model by its keys, cached (a missing row as null) as long as the model's rows would be.</summary>
    private ValueTask<ModelVersionEntity?> ReadRowAsync(string tenant, string partitionKey, string rowKey, CancellationToken cancellationToken)
    {
        Func<string?>? stamp = _epochs is { } epochs ? () => epochs.Current(tenant) : null;
        return _reads.GetOrLoadAsync(RowCacheKey(tenant, partitionKey, rowKey), CacheDuration, absentFor: null, refreshAhead: true, stamp, EpochValidity, async ct =>
        {
            var response = await _storage.ModelsTable.GetEntityIfExistsAsync<ModelVersionEntity>(partitionKey, rowKey, cancellationToken: ct).ConfigureAwait(false);
            return response.HasValue ? response.Value : null;
        }, cancellationToken);
    }

    /// <summary>
    /// The cache key of one row. It carries the count of this process's own writes to the tenant (<see cref="Invalidate"/>),
    /// so a process that has just changed a model reads its rows again instead of answering from before its change; a
    /// router or shard never writes, and keeps one key per row.
    /// </summary>
    private string RowCacheKey(string tenant, string partitionKey, string rowKey) =>
        _localWrites.TryGetValue(tenant, out var writes)
            ? string.Concat("row:", partitionKey, "|", rowKey, "|", writes.ToString(System.Globalization.CultureInfo.InvariantCulture))
            : string.Concat("row:", partitionKey, "|", rowKey);

    /// <summary>The version a request means, decided on all of the model's rows (a query of its partition).</summary>
    private async ValueTask<ModelVersionEntity?> ResolveFromRowsAsync(string tenant, string model, string? version, CancellationToken cancellationToken)
    {
        var rows = await GetRowsAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        if (version is null)
        {
            version = FindAlias(rows, ProductionAlias) ?? HighestReady(rows);
            if (version is null)
            {
                return null;
            }
        }

        foreach (var row in rows)
        {
            if (!row.IsAlias && row.RowKey == version)
            {
                return row;
            }
        }

        // An alias in the version's place (/versions/production/infer) means the version it points at.
        if (!ModelNames.IsValidVersion(version) && FindAlias(rows, version) is { } aliased)
        {
            foreach (var row in rows)
            {
                if (!row.IsAlias && row.RowKey == aliased)
                {
                    return row;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The row of a numbered version from the rows last read, however old, or null when they are not kept or
    /// do not have it. For a caller that has just checked the version against the registry itself (the router):
    /// a version's row does not change once Ready, so a shard reloading an evicted model need not read it again.
    /// </summary>
    public ModelVersionEntity? TryGetKnownVersion(string tenant, string model, string version)
    {
        if (!ModelNames.IsValidVersion(version))
        {
            return null;
        }

        var key = ModelNames.ModelKey(tenant, model);
        if (_reads.TryGetKnown<ModelVersionEntity?>(RowCacheKey(tenant, key, version), out var known) && known is { IsAlias: false })
        {
            return known;
        }

        if (!_reads.TryGetKnown<IReadOnlyList<ModelVersionEntity>>("registry:" + key, out var rows) || rows is null)
        {
            return null;
        }

        foreach (var row in rows)
        {
            if (!row.IsAlias && row.RowKey == version)
            {
                return row;
            }
        }

        return null;
    }

    /// <summary>
    /// After a write to a model's rows: forgets them here and gives the tenant a new registry epoch, so every router
    /// and shard sees the change within about a second. The write itself has happened: a failure to bump is
    /// swallowed (the change is then seen within <see cref="EpochValidity"/>).
    /// </summary>
    public async Task ChangedAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        Invalidate(tenant, model);
        if (_epochs is null)
        {
            return;
        }

        try
        {
            await _epochs.BumpAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Azure.RequestFailedException || StorageFaults.IsTransient(e, cancellationToken))
        {
        }
    }

    /// <summary>Forgets the cached rows of a model, after a change to them.</summary>
    public void Invalidate(string tenant, string model)
    {
        _reads.Expire<IReadOnlyList<ModelVersionEntity>>("registry:" + ModelNames.ModelKey(tenant, model));
        // Every cached row of the tenant gets a new key in this process (RowCacheKey): one counter per tenant, not per row.
        _localWrites.AddOrUpdate(tenant, 1, static (_, n) => n + 1);
    }

    /// <summary>Reads one version row straight from storage (no cache).</summary>
    public async Task<ModelVersionEntity?> GetAsync(string tenant, string model, string version, CancellationToken cancellationToken)
    {
        var response = await _storage.ModelsTable.GetEntityIfExistsAsync<ModelVersionEntity>(ModelNames.ModelKey(tenant, model), version, cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.HasValue ? response.Value : null;
    }

    /// <summary>All rows (versions and aliases) of one model read straight from storage (no cache): one partition query.</summary>
    public async Task<List<ModelVersionEntity>> ReadRowsAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        var key = ModelNames.ModelKey(tenant, model);
        var rows = new List<ModelVersionEntity>();
        await foreach (var row in _storage.ModelsTable.QueryAsync<ModelVersionEntity>(e => e.PartitionKey == key, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// Inserts the first row of a model together with its <c>latest</c> alias, in one transaction of the model's
    /// partition: a model's first publish costs one write instead of an insert, a read of the partition and an alias
    /// write (publishing a fleet of new models is mostly first publishes). False when either row exists (409): another
    /// writer was first, and the caller takes the general path (<see cref="TryInsertAsync"/>, then the latest alias).
    /// </summary>
    public async Task<bool> TryInsertFirstAsync(ModelVersionEntity entity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entity);
        var latest = new ModelVersionEntity
        {
            PartitionKey = entity.PartitionKey,
            RowKey = ModelVersionEntity.AliasPrefix + LatestAlias,
            Tenant = entity.Tenant,
            Model = entity.Model,
            Version = entity.RowKey,
            State = ModelStates.Ready,
            PublishedAt = entity.PublishedAt,
        };
        try
        {
            await _storage.ModelsTable.SubmitTransactionAsync(
                [new Azure.Data.Tables.TableTransactionAction(Azure.Data.Tables.TableTransactionActionType.Add, entity), new Azure.Data.Tables.TableTransactionAction(Azure.Data.Tables.TableTransactionActionType.Add, latest)],
                cancellationToken).ConfigureAwait(false);
        }
        catch (Azure.RequestFailedException e) when (e.Status == 409)
        {
            Invalidate(entity.Tenant, entity.Model);
            return false;
        }

        await ChangedAsync(entity.Tenant, entity.Model, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Inserts a version row that must not exist yet. False when one does (409): another delivery or publisher wrote
    /// it first, and the caller re-reads it and decides again. Never a blind write, so a published row is never lost.
    /// </summary>
    public async Task<bool> TryInsertAsync(ModelVersionEntity entity, CancellationToken cancellationToken)
    {
        try
        {
            await _storage.ModelsTable.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
        }
        catch (Azure.RequestFailedException e) when (e.Status == 409)
        {
            Invalidate(entity.Tenant, entity.Model);
            return false;
        }

        await ChangedAsync(entity.Tenant, entity.Model, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Replaces a version row under the ETag it was read with. False when the row has changed or gone since
    /// (412, 404): the caller re-reads it and decides again.
    /// </summary>
    public async Task<bool> TryReplaceAsync(ModelVersionEntity entity, Azure.ETag etag, CancellationToken cancellationToken)
    {
        try
        {
            await _storage.ModelsTable.UpdateEntityAsync(entity, etag, Azure.Data.Tables.TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        }
        catch (Azure.RequestFailedException e) when (e.Status is 404 or 412)
        {
            Invalidate(entity.Tenant, entity.Model);
            return false;
        }

        await ChangedAsync(entity.Tenant, entity.Model, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// The alias rows of one model straight from storage (no cache, not the last known good): for a decision that an
    /// ETag then fences, which must not be taken on rows a moment old.
    /// </summary>
    public async Task<IReadOnlyList<ModelVersionEntity>> GetAliasRowsAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        var key = ModelNames.ModelKey(tenant, model);
        // '@' (0x40) sorts above every version character (digits, '.', '-', '+') and 'A' (0x41) just above it.
        var filter = Azure.Data.Tables.TableClient.CreateQueryFilter($"PartitionKey eq {key} and RowKey ge {ModelVersionEntity.AliasPrefix} and RowKey lt {"A"}");
        var rows = new List<ModelVersionEntity>();
        await foreach (var row in _storage.ModelsTable.QueryAsync<ModelVersionEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (row.IsAlias)
            {
                rows.Add(row);
            }
        }

        return rows;
    }

    /// <summary>
    /// Lists every version row (not aliases), of one tenant or of all, into memory: for tests and small registries only;
    /// listings for people page with <see cref="ModelListing"/>.
    /// </summary>
    public async Task<IReadOnlyList<ModelVersionEntity>> ListAsync(string? tenant, CancellationToken cancellationToken)
    {
        var rows = new List<ModelVersionEntity>();
        var query = tenant is null
            ? _storage.ModelsTable.QueryAsync<ModelVersionEntity>(cancellationToken: cancellationToken)
            // The tenant's partitions as a key range: a filter on the Tenant property would scan every tenant's rows.
            : _storage.ModelsTable.QueryAsync<ModelVersionEntity>(ModelListing.Filter(new ModelListQuery { Tenant = tenant }), cancellationToken: cancellationToken);
        await foreach (var row in query.ConfigureAwait(false))
        {
            if (!row.IsAlias)
            {
                rows.Add(row);
            }
        }

        rows.Sort(static (a, b) =>
        {
            var c = string.CompareOrdinal(a.PartitionKey, b.PartitionKey);
            return c != 0 ? c : ModelVersion.Compare(a.Version, b.Version);
        });
        return rows;
    }

    /// <summary>The versions of a model that are Ready, highest first.</summary>
    public static List<string> ReadyVersions(IReadOnlyList<ModelVersionEntity> rows)
    {
        var versions = new List<string>();
        foreach (var row in rows)
        {
            if (!row.IsAlias && row.State == ModelStates.Ready)
            {
                versions.Add(row.RowKey);
            }
        }

        versions.Sort(static (a, b) => ModelVersion.Compare(b, a));
        return versions;
    }

    public static TensorMetadata[] ParseTensors(string json) =>
        JsonSerializer.Deserialize(json, CoreJsonContext.Default.TensorMetadataArray) ?? [];

    public static string FormatTensors(TensorMetadata[] tensors) =>
        JsonSerializer.Serialize(tensors, CoreJsonContext.Default.TensorMetadataArray);

    private static string? FindAlias(IReadOnlyList<ModelVersionEntity> rows, string alias)
    {
        foreach (var row in rows)
        {
            if (row.IsAlias && row.RowKey.AsSpan(1).SequenceEqual(alias))
            {
                return row.Version;
            }
        }

        return null;
    }

    private static string? HighestReady(IReadOnlyList<ModelVersionEntity> rows)
    {
        string? best = null;
        foreach (var row in rows)
        {
            if (!row.IsAlias && row.State == ModelStates.Ready && (best is null || ModelVersion.Compare(row.RowKey, best) > 0))
            {
                best = row.RowKey;
            }
        }

        return best;
    }
}
