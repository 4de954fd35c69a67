using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Caching.Memory;
using Serverless.Core.Concurrency;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.Core.Storage;

namespace Serverless.Core.Tenancy;

/// <summary>
/// Tenants and their API keys in Table <c>tenants</c>. Authentication reads the tenant's row at most
/// once per <see cref="CacheDuration"/> per process, so a request costs no storage call.
/// </summary>
public sealed class TenantStore
{
    private static readonly TimeSpan CacheDuration = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan UnknownCacheDuration = TimeSpan.FromSeconds(2);
    private readonly StorageClients _storage;
    private readonly LastKnownGoodCache _reads;
    private readonly RegistryEpochs? _epochs;
    private readonly TimeProvider _time;
    private readonly SingleFlight<string, TenantNames> _loadingNames = new(StringComparer.Ordinal);
    private readonly ulong _seed = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(sizeof(ulong)));
    private TenantNames? _names;
    private long _nameLoads;

    /// <summary>Without the tenants' epoch: an unknown tenant is remembered for 2 s (tools, tests).</summary>
    public TenantStore(StorageClients storage, IMemoryCache cache, TimeProvider time)
        : this(storage, cache, null, time)
    {
    }

    /// <summary>
    /// With the tenants' epoch (<see cref="RegistryEpochs.TenantsKey"/>): the set of tenant names, read once per
    /// epoch, answers an unknown tenant name with no storage read (the apps).
    /// </summary>
    public TenantStore(StorageClients storage, IMemoryCache cache, RegistryEpochs? epochs, TimeProvider time)
    {
        _storage = storage;
        _epochs = epochs;
        _time = time;
        _reads = new LastKnownGoodCache(cache, storage.OutageBreaker, time, storage.RequestWait);
    }

    /// <summary>Reads of the set of tenant names so far (what made-up tenant names cost storage).</summary>
    public long TenantNameLoads => Interlocked.Read(ref _nameLoads);

    /// <summary>Creates the tenant if needed and adds a new API key to it; returns the key (shown once).</summary>
    public async Task<string> AddKeyAsync(string tenant, int? shuffleShardSize, CancellationToken cancellationToken) =>
        await AddKeyAsync(tenant, shuffleShardSize, null, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Creates the tenant if needed (or updates its k and quota when given) and adds a new API key to it;
    /// returns the key, which is shown once and never stored.
    /// </summary>
    public async Task<string> AddKeyAsync(string tenant, int? shuffleShardSize, int? requestsPerSecond, CancellationToken cancellationToken)
    {
        var error = ModelNames.CheckTenant(tenant);
        if (error is not null)
        {
            throw new ArgumentException(error, nameof(tenant));
        }

        var (key, record) = ApiKeys.Create(tenant);
        while (true)
        {
            var existing = await _storage.TenantsTable.GetEntityIfExistsAsync<TenantEntity>(tenant, TenantEntity.RowKeyValue, cancellationToken: cancellationToken).ConfigureAwait(false);
            try
            {
                if (existing.HasValue && existing.Value is { } entity)
                {
                    entity.KeyHashes = string.IsNullOrEmpty(entity.KeyHashes) ? record : $"{entity.KeyHashes};{record}";
                    entity.ShuffleShardSize = shuffleShardSize ?? entity.ShuffleShardSize;
                    entity.RequestsPerSecond = requestsPerSecond ?? entity.RequestsPerSecond;
                    await _storage.TenantsTable.UpdateEntityAsync(entity, entity.ETag, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _storage.TenantsTable.AddEntityAsync(
                        new TenantEntity { PartitionKey = tenant, KeyHashes = record, ShuffleShardSize = shuffleShardSize ?? PlacementDefaults.ShuffleShardSize, RequestsPerSecond = requestsPerSecond ?? 0 },
                        cancellationToken).ConfigureAwait(false);
                }

                _reads.Expire<TenantEntity?>(CacheKey(tenant));
                await TenantsChangedAsync(cancellationToken).ConfigureAwait(false);
                return key;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Someone else changed the row between our read and write: read again, never overwrite blind.
            }
        }
    }

    /// <summary>
    /// Creates a new tenant with one API key; returns the key (shown once, never stored). Refuses a tenant
    /// that exists already (<see cref="InvalidOperationException"/>): a second key for it is a rotation.
    /// </summary>
    public async Task<string> CreateAsync(string tenant, int? shuffleShardSize, int? requestsPerSecond, CancellationToken cancellationToken)
    {
        if (ModelNames.CheckTenant(tenant) is { } error)
        {
            throw new ArgumentException(error, nameof(tenant));
        }

        var (key, record) = ApiKeys.Create(tenant);
        try
        {
            await _storage.TenantsTable.AddEntityAsync(
                new TenantEntity { PartitionKey = tenant, KeyHashes = record, ShuffleShardSize = shuffleShardSize ?? PlacementDefaults.ShuffleShardSize, RequestsPerSecond = requestsPerSecond ?? 0 },
                cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            throw new InvalidOperationException($"tenant '{tenant}' exists already; `tenant rotate-key {tenant}` gives it a new key", e);
        }

        _reads.Expire<TenantEntity?>(CacheKey(tenant));
        await TenantsChangedAsync(cancellationToken).ConfigureAwait(false);
        return key;
    }

    /// <summary>
    /// Gives an existing tenant a new API key and removes all its other keys; returns the new key (shown
    /// once). The old keys stop working in every process within the tenant cache's lifetime (15 s).
    /// </summary>
    public async Task<string> RotateKeyAsync(string tenant, CancellationToken cancellationToken)
    {
        if (ModelNames.CheckTenant(tenant) is { } error)
        {
            throw new ArgumentException(error, nameof(tenant));
        }

        var (key, record) = ApiKeys.Create(tenant);
        while (true)
        {
            var existing = await _storage.TenantsTable.GetEntityIfExistsAsync<TenantEntity>(tenant, TenantEntity.RowKeyValue, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!existing.HasValue || existing.Value is not { } entity)
            {
                throw new InvalidOperationException($"no tenant '{tenant}'");
            }

            entity.KeyHashes = record;
            try
            {
                await _storage.TenantsTable.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                _reads.Expire<TenantEntity?>(CacheKey(tenant));
                return key;
            }
            catch (RequestFailedException e) when (e.Status == 412)
            {
                // Changed between our read and write (another key added): read again, never overwrite blind.
            }
        }
    }

    /// <summary>Every tenant with its shuffle shard size, quota and number of keys (never the keys or hashes).</summary>
    public async Task<IReadOnlyList<TenantSummary>> ListSummariesAsync(CancellationToken cancellationToken)
    {
        var tenants = new List<TenantSummary>();
        await foreach (var entity in _storage.TenantsTable.QueryAsync<TenantEntity>(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            tenants.Add(new TenantSummary(
                entity.PartitionKey,
                Math.Max(1, entity.ShuffleShardSize),
                Math.Max(0, entity.RequestsPerSecond),
                entity.KeyHashes.Split(';', StringSplitOptions.RemoveEmptyEntries).Length));
        }

        return tenants;
    }

    /// <summary>The tenant whose key this is, or null when the key is missing, malformed or wrong.</summary>
    public async ValueTask<Tenant?> AuthenticateAsync(string? apiKey, CancellationToken cancellationToken)
    {
        if (!ApiKeys.TryParse(apiKey, out var tenantName, out var secret) || !ModelNames.IsValidName(tenantName))
        {
            return null;
        }

        var entity = await GetAsync(tenantName, cancellationToken).ConfigureAwait(false);
        if (entity is null || !ApiKeys.Verify(secret, entity.KeyHashes))
        {
            return null;
        }

        return new Tenant(tenantName, Math.Max(1, entity.ShuffleShardSize), Math.Max(0, entity.RequestsPerSecond));
    }

    /// <summary>The size k of a tenant's shuffle shard (the default when the tenant has no row).</summary>
    public async ValueTask<int> GetShuffleShardSizeAsync(string tenant, CancellationToken cancellationToken)
    {
        var entity = await GetAsync(tenant, cancellationToken).ConfigureAwait(false);
        return Math.Max(1, entity?.ShuffleShardSize ?? PlacementDefaults.ShuffleShardSize);
    }

    /// <summary>Lists the tenants' names.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(CancellationToken cancellationToken)
    {
        var names = new List<string>();
        await foreach (var entity in _storage.TenantsTable.QueryAsync<TenantEntity>(select: ["PartitionKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            names.Add(entity.PartitionKey);
        }

        return names;
    }

    private async ValueTask<TenantEntity?> GetAsync(string tenant, CancellationToken cancellationToken)
    {
        if (!await MayExistAsync(tenant, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        // Unknown tenants are cached too, briefly (and not kept past that), so a flood of bad keys does not
        // become a flood of reads while a tenant just created is usable within seconds. A known tenant is kept
        // while Table storage is away, so its resident models go on being served.
        var key = CacheKey(tenant);
        return await _reads.GetOrLoadAsync(key, CacheDuration, UnknownCacheDuration, async ct =>
        {
            var response = await _storage.TenantsTable.GetEntityIfExistsAsync<TenantEntity>(tenant, TenantEntity.RowKeyValue, cancellationToken: ct).ConfigureAwait(false);
            return response.HasValue ? response.Value : null;
        }, cancellationToken).ConfigureAwait(false);
    }

    private static string CacheKey(string tenant) => "tenant:" + tenant;

    /// <summary>
    /// After a tenant is created: a new tenants epoch, so every router sees it within about a second. The row is
    /// written: a failed bump is swallowed (the tenant is then seen within <see cref="ModelRegistry.EpochValidity"/>).
    /// </summary>
    private async Task TenantsChangedAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RegistryEpochs.BumpAsync(_storage, RegistryEpochs.TenantsKey, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RequestFailedException || StorageFaults.IsTransient(e, cancellationToken))
        {
        }
    }

    /// <summary>
    /// False when no tenant of this name exists, told from the set of tenant names while the tenants epoch holds
    /// (a flood of made-up tenant names in keys costs one read per epoch change); true when it may (read its row).
    /// </summary>
    private ValueTask<bool> MayExistAsync(string tenant, CancellationToken cancellationToken)
    {
        var epoch = _epochs?.Current(RegistryEpochs.TenantsKey);
        if (epoch is null)
        {
            // No epoch to trust (a tool, or the poll failing): the row read (with its 2 s memory of absence) decides.
            return new ValueTask<bool>(true);
        }

        var names = Volatile.Read(ref _names);
        if (IsCurrent(names, epoch))
        {
            if (names!.Names.Contains(tenant) || _storage.OutageBreaker.IsOpen(_time.GetUtcNow()))
            {
                // (Storage away: the row read decides, from what it last read, or 503; never a 401 it cannot check.)
                return new ValueTask<bool>(true);
            }

            // Not in the set: the name may belong to a tenant created since the last poll. Ask the tenants epoch itself,
            // by a read that starts after this request arrived (shared by every request waiting, one per
            // RefreshSpacing): a made-up name waits that long (it has no key worth answering fast) and costs no read of
            // its own; a tenant created a moment ago is seen at once, as its creation bumped the epoch before returning.
            return RefreshThenDecideAsync(tenant, names, cancellationToken);
        }

        // No current set (none held, a new epoch, or too old), or storage away: the row read decides (its last-known-good
        // answer, or 503), never a 401 from a set that may be stale; the set is loaded behind this request rather than
        // waited for, so a hung storage costs one wait, not two.
        LoadNamesBehind(epoch);
        return new ValueTask<bool>(true);
    }

    private async ValueTask<bool> RefreshThenDecideAsync(string tenant, TenantNames names, CancellationToken cancellationToken)
    {
        var refresh = _epochs!.RefreshAsync(RegistryEpochs.TenantsKey, _time.GetTimestamp());
        try
        {
            await refresh.WaitAsync(_storage.RequestWait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Storage did not answer within a request's wait: an outage to this caller. The breaker opens, so the row
            // read that follows answers at once (what it last read, or 503) instead of waiting as long again.
            _storage.OutageBreaker.Failed(_time.GetUtcNow());
            return true;
        }

        var epoch = _epochs.Current(RegistryEpochs.TenantsKey);
        if (epoch is not null && IsCurrent(names, epoch))
        {
            return names.Names.Contains(tenant);
        }

        if (epoch is not null)
        {
            LoadNamesBehind(epoch);
        }

        return true;
    }

    private bool IsCurrent(TenantNames? names, string epoch) =>
        names is not null && string.Equals(names.Epoch, epoch, StringComparison.Ordinal) && _time.GetElapsedTime(names.LoadedAt) < ModelRegistry.EpochValidity;

    private void LoadNamesBehind(string epoch)
    {
        if (!_storage.OutageBreaker.IsOpen(_time.GetUtcNow()))
        {
            _ = LoadNamesQuietlyAsync(epoch);
        }
    }

    private async Task LoadNamesQuietlyAsync(string epoch)
    {
        try
        {
            await _loadingNames.JoinOrStart(epoch, this, static (e, store) => store.LoadNamesAsync(e)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RequestFailedException || StorageFaults.IsTransient(e, CancellationToken.None))
        {
            // The next request tries again; until a set is held every name is read.
        }
    }

    /// <summary>One query of the tenants' partition keys; stamped with the epoch current before it started.</summary>
    private async Task<TenantNames> LoadNamesAsync(string epoch)
    {
        var started = _time.GetTimestamp();
        Interlocked.Increment(ref _nameLoads);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var hashes = new List<ulong>();
        await foreach (var entity in _storage.TenantsTable.QueryAsync<TableEntity>(select: ["PartitionKey", "RowKey"], cancellationToken: timeout.Token).ConfigureAwait(false))
        {
            hashes.Add(ModelNameSet.Hash(entity.PartitionKey, _seed));
        }

        var names = new TenantNames(ModelNameSet.FromHashes(hashes, _seed), epoch, started);
        Volatile.Write(ref _names, names);
        return names;
    }

    private sealed record TenantNames(ModelNameSet Names, string Epoch, long LoadedAt);

    /// <summary>
    /// Sets the tenant's publish limits (null leaves one as it is, 0 restores the publisher's default); false when
    /// there is no such tenant. The publisher reads them within a minute.
    /// </summary>
    public async Task<bool> SetPublishLimitsAsync(string tenant, int? maxModels, int? maxVersionsPerModel, long? maxTotalBytes, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(tenant, TenantEntity.RowKeyValue);
        if (maxModels is { } models)
        {
            entity[nameof(TenantEntity.MaxModels)] = models;
        }

        if (maxVersionsPerModel is { } versions)
        {
            entity[nameof(TenantEntity.MaxVersionsPerModel)] = versions;
        }

        if (maxTotalBytes is { } bytes)
        {
            entity[nameof(TenantEntity.MaxTotalBytes)] = bytes;
        }

        try
        {
            // A merge on the row's current ETag (If-Match: *): fails with 404 for a tenant that does not exist.
            await _storage.TenantsTable.UpdateEntityAsync(entity, ETag.All, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return false;
        }

        _reads.Expire<TenantEntity?>(CacheKey(tenant));
        return true;
    }
}
