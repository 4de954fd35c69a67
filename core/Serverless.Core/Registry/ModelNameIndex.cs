using System.Collections.Concurrent;
using System.Security.Cryptography;
using Azure.Data.Tables;
using Serverless.Core.Concurrency;
using Serverless.Core.Storage;

namespace Serverless.Core.Registry;

/// <summary>
/// Per tenant, the set of its model names (<see cref="ModelNameSet"/>), so a name the tenant never published is
/// answered 404 with no storage read: a negative cache cannot bound the reads of distinct made-up names, this can.
/// A tenant's set is loaded on its first request by one range query of its registry partitions
/// (<c>{tenant}~…</c>, PartitionKey and RowKey only) and stays valid while the tenant's registry epoch
/// (<see cref="RegistryEpochs"/>, polled each second, bumped by every publish, alias move, retire and delete) says
/// nothing changed, up to <see cref="ModelRegistry.EpochValidity"/>; a new epoch reloads it once (single flight), so a
/// model just published is served within about a second. Sets are held for at most <see cref="MaxTenants"/>
/// tenants and <see cref="MaxNames"/> names in all, the least recently used tenants evicted past either bound: the
/// router does not hold the whole fleet's names.
/// </summary>
/// <remarks>
/// When it cannot tell (no set loaded and the load failed or took longer than a request may wait), it says "may
/// exist" and the caller reads the registry as before: the set only ever saves reads, it never makes a real model 404.
/// A name in a stale set (the epoch moved on) is let through at once while the set reloads in the background: the
/// registry read that follows decides; only a name missing from a stale set waits for the reload.
/// </remarks>
public sealed class ModelNameIndex
{
    /// <summary>Tenants whose sets are held at once.</summary>
    public const int MaxTenants = 1_024;

    /// <summary>Names held in all sets together (8 bytes each: 32 MB).</summary>
    public const long MaxNames = 4_000_000;

    /// <summary>
    /// Registry reads per second, per tenant and process, for names its current set does not have (<see cref="ReadBudget"/>):
    /// a model published a moment ago, before the next epoch poll shows it, is served at once; a flood of junk costs this
    /// at most, and one tenant's junk never spends another's budget. Past it the tenant's epoch is read on demand
    /// (<see cref="RegistryEpochs.RefreshAsync"/>).
    /// </summary>
    public const int AbsentReadsPerSecond = 10;

    /// <summary>
    /// How long a name let through the budget stays let through: past the next epoch poll, which shows the publish
    /// that created it (then the reloaded set has it).
    /// </summary>
    private static readonly TimeSpan RecentFor = TimeSpan.FromSeconds(5);

    /// <summary>Names remembered as let through, per tenant (the budget over <see cref="RecentFor"/>, with room).</summary>
    private const int MaxRecent = 128;

    /// <summary>How long a set may be used without a current epoch (the poll failing): the registry's own freshness.</summary>
    public static readonly TimeSpan UnstampedFreshness = TimeSpan.FromSeconds(2);

    private readonly StorageClients _storage;
    private readonly RegistryEpochs _epochs;
    private readonly TimeProvider _time;
    private readonly ulong _seed;
    private readonly int _maxTenants;
    private readonly long _maxNames;
    private readonly ConcurrentDictionary<string, Entry> _sets = new(StringComparer.Ordinal);
    private readonly SingleFlight<string, Entry> _loading = new(StringComparer.Ordinal);
    private readonly Lock _evicting = new();
    private long _names;
    private long _loads;
    private long _feedReads;

    public ModelNameIndex(StorageClients storage, RegistryEpochs epochs, TimeProvider time)
        : this(storage, epochs, time, MaxTenants, MaxNames)
    {
    }

    /// <summary>With other bounds (tests).</summary>
    public ModelNameIndex(StorageClients storage, RegistryEpochs epochs, TimeProvider time, int maxTenants, long maxNames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTenants, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNames, 1);
        _storage = storage;
        _epochs = epochs;
        _time = time;
        _maxTenants = maxTenants;
        _maxNames = maxNames;
        _seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));
    }

    /// <summary>Tenants whose sets are held now.</summary>
    public int TenantCount => _sets.Count;

    /// <summary>Names held in all sets now.</summary>
    public long NameCount => Interlocked.Read(ref _names);

    /// <summary>Range queries made so far (one per set loaded): what junk names cost storage.</summary>
    public long Loads => Interlocked.Read(ref _loads);

    /// <summary>Reads of the name feed made so far (one per set brought up to date from it).</summary>
    public long FeedReads => Interlocked.Read(ref _feedReads);

    /// <summary>
    /// The longest a set goes without a read of all the tenant's names. Long: at 100,000 models a full read is a hundred
    /// pages (and many times that in Azurite's time); the name feed keeps a set current in between.
    /// </summary>
    public static readonly TimeSpan FullReloadInterval = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Without waiting: true when the tenant's held set has the name, false when it does not, null when no set is
    /// held. For work worth starting early only for a real model (the router's placement prefetch).
    /// </summary>
    public bool? Peek(string tenant, string model) =>
        _sets.TryGetValue(tenant, out var entry) ? entry.Names.Contains(model) : null;

    /// <summary>
    /// False when the tenant surely has no model of this name (answer 404, read nothing); true when it has, or when
    /// this cannot be told now (read the registry).
    /// </summary>
    public ValueTask<bool> MayExistAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        var now = _time.GetTimestamp();
        var epoch = _epochs.Current(tenant);
        if (_sets.TryGetValue(tenant, out var entry))
        {
            entry.LastUsed = now;
            if (IsCurrent(entry, epoch, now))
            {
                if (entry.Names.Contains(model) || entry.WasLetThrough(model, now, _time) || entry.LetThrough(model, now))
                {
                    return ValueTask.FromResult(true);
                }

                // Over the tenant's budget: read the tenant's epoch on demand (one point read per spacing). When a read
                // may start at once, this request waits for it (milliseconds): a model published a moment ago, in a burst
                // of publishes past the budget, is served on its first request, not 404ed until the next epoch poll (a
                // second). Otherwise 404 now: under a flood of junk at most one request per spacing waits, and a new model
                // is served within ~0.2 s.
                if (!_storage.OutageBreaker.IsOpen(_time.GetUtcNow()))
                {
                    if (_epochs.TryRefreshNow(tenant, out var read))
                    {
                        return AfterEpochReadAsync(tenant, entry, read, cancellationToken);
                    }

                    _ = _epochs.RefreshAsync(tenant, now);
                }

                return ValueTask.FromResult(false);
            }

            if (entry.Names.Contains(model))
            {
                // Known before the change: let it through now (the registry read decides), reload behind it.
                if (!_storage.OutageBreaker.IsOpen(_time.GetUtcNow()))
                {
                    _ = ReloadQuietlyAsync(tenant, epoch);
                }

                return ValueTask.FromResult(true);
            }
        }

        if (_storage.OutageBreaker.IsOpen(_time.GetUtcNow()))
        {
            // Storage away: what is held answers (the name is not in it); with nothing held, the registry's cache decides.
            return ValueTask.FromResult(entry is null);
        }

        // No current set: load it behind this request, which the registry decides. Waiting for the load first would
        // make a hung storage cost the request two waits (the load's and the registry read's) and turn a model
        // published a moment ago into a 404 from a stale set; junk costs reads only until the load lands (ms).
        _ = ReloadQuietlyAsync(tenant, epoch);
        return ValueTask.FromResult(true);
    }

    /// <summary>
    /// After an on-demand read of the tenant's epoch: true (the registry decides; the set catches up behind) when the
    /// tenant's registry changed since the set was brought up to date, false when it did not (the name is not the tenant's).
    /// </summary>
    private async ValueTask<bool> AfterEpochReadAsync(string tenant, Entry entry, Task read, CancellationToken cancellationToken)
    {
        try
        {
            await read.WaitAsync(_storage.RequestWait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }

        var epoch = _epochs.Current(tenant);
        if (epoch is null || string.Equals(epoch, entry.Epoch, StringComparison.Ordinal))
        {
            return false;
        }

        _ = ReloadQuietlyAsync(tenant, epoch);
        return true;
    }

    private bool IsCurrent(Entry entry, string? epoch, long now)
    {
        var age = _time.GetElapsedTime(entry.LoadedAt, now);
        return epoch is not null && entry.Epoch is not null
            ? string.Equals(epoch, entry.Epoch, StringComparison.Ordinal) && age < ModelRegistry.EpochValidity
            : age < UnstampedFreshness;
    }

    private async Task ReloadQuietlyAsync(string tenant, string? epoch)
    {
        try
        {
            await Load(tenant, epoch).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Azure.RequestFailedException || StorageFaults.IsTransient(e, CancellationToken.None))
        {
            // The stale set keeps answering names it has; the next request tries again.
        }
    }

    /// <summary>How often <see cref="ModelNameSetFollower"/> brings the held sets up to date (<see cref="CatchUpAsync"/>).</summary>
    public static readonly TimeSpan CatchUpInterval = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Brings each held set whose tenant's registry changed up to date from the name feed, as a request would, while
    /// the feed still covers it, and does not count that as a use of the set. Without it a set is updated only by
    /// requests, and one idle through a long bulk publish (100,000 models, a quarter of an hour, no traffic) fell
    /// behind the feed's retention: its next request started a full read of two hundred pages. Then, when every held
    /// set is current and there is room, loads the set of one tenant that has a registry but no set here (a paced
    /// full read, <see cref="PacedTableScan"/>): a tenant that publishes has its set loaded while it is small and
    /// followed from then on, instead of read whole on its first request, and a process that starts beside a large
    /// fleet reads it once in the background rather than on the first requests' path. A set loaded so is the least
    /// recently used until a request uses it.
    /// </summary>
    public async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        await CatchUpHeldAsync(cancellationToken).ConfigureAwait(false);
        if (_sets.Count >= _maxTenants || Interlocked.Read(ref _names) >= _maxNames || _storage.OutageBreaker.IsOpen(_time.GetUtcNow()))
        {
            return;
        }

        foreach (var tenant in _epochs.Tenants())
        {
            var epoch = _epochs.Current(tenant);
            if (_sets.ContainsKey(tenant) || string.IsNullOrEmpty(epoch))
            {
                continue;
            }

            try
            {
                await Load(tenant, epoch, touch: false).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is Azure.RequestFailedException || StorageFaults.IsTransient(e, cancellationToken))
            {
                // The next round tries again.
            }

            // One a round: each is a scan.
            return;
        }
    }

    private async Task CatchUpHeldAsync(CancellationToken cancellationToken)
    {
        var feedCovers = (RegistryNameFeed.Retention - RegistryNameFeed.ClockMargin).Ticks;
        foreach (var (tenant, held) in _sets)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var nowTicks = _time.GetUtcNow().UtcTicks;
            var epoch = _epochs.Current(tenant);
            if (epoch is null || string.Equals(epoch, held.Epoch, StringComparison.Ordinal)
                || nowTicks - held.FeedFromTicks >= feedCovers || nowTicks - held.FullLoadedAtTicks >= FullReloadInterval.Ticks
                || _storage.OutageBreaker.IsOpen(_time.GetUtcNow()))
            {
                continue;
            }

            try
            {
                await Load(tenant, epoch, touch: false).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is Azure.RequestFailedException || StorageFaults.IsTransient(e, cancellationToken))
            {
                // The next round, or the next request, tries again.
            }
        }
    }

    private Task<Entry> Load(string tenant, string? epoch, bool touch = true) =>
        _loading.JoinOrStart(tenant, (Index: this, Epoch: epoch, Touch: touch), static (t, s) => s.Index.LoadAsync(t, s.Epoch, s.Touch));

    /// <summary>
    /// Brings the tenant's set up to the epoch current before it started: from the name feed when a set is held that was
    /// brought up to date within the feed's retention (<see cref="RegistryNameFeed"/>: a few rows), else by reading all
    /// the tenant's names. A set is read in full at least every <see cref="FullReloadInterval"/>, so a name whose
    /// feed row was never written (its writer stopped between its row and its bump) is not missing for longer.
    /// </summary>
    /// <remarks><paramref name="touch"/>: counts as a use of the set (false from <see cref="CatchUpAsync"/>).</remarks>
    private async Task<Entry> LoadAsync(string tenant, string? epoch, bool touch)
    {
        var nowTicks = _time.GetUtcNow().UtcTicks;
        if (_sets.TryGetValue(tenant, out var held)
            && nowTicks - held.FeedFromTicks < (RegistryNameFeed.Retention - RegistryNameFeed.ClockMargin).Ticks
            && nowTicks - held.FullLoadedAtTicks < FullReloadInterval.Ticks)
        {
            var updatedAt = _time.GetTimestamp();
            using var feedTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            Interlocked.Increment(ref _feedReads);
            var names = await _epochs.NameFeed.ReadSinceAsync(tenant, held.FeedFromTicks, feedTimeout.Token).ConfigureAwait(false);
            // A fresh read budget, as a full read gives: a set brought up to date is the new state of the tenant, and the names
            // it lacks now are what the budget is for (a carried-over budget spent by the names of a burst of publishes 404ed the next).
            var updated = new Entry(held.Names.With(names), epoch, updatedAt, new ReadBudget(_time, AbsentReadsPerSecond))
            {
                LastUsed = touch ? Math.Max(held.LastUsed, updatedAt) : held.LastUsed,
                FeedFromTicks = nowTicks - RegistryNameFeed.ClockMargin.Ticks,
                FullLoadedAtTicks = held.FullLoadedAtTicks,
            };
            Keep(tenant, updated);
            return updated;
        }

        return await LoadAllAsync(tenant, epoch, nowTicks, touch).ConfigureAwait(false);
    }

    /// <summary>One range query of the tenant's registry partitions; the epoch is the one current before it started.</summary>
    private async Task<Entry> LoadAllAsync(string tenant, string? epoch, long nowTicks, bool touch)
    {
        var started = _time.GetTimestamp();
        var prefix = tenant + "~";
        // '~' + 1: every partition key "{tenant}~{model}" sorts inside [prefix, end).
        var end = tenant + "\u007f";
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {prefix} and PartitionKey lt {end}");
        var hashes = new List<ulong>();
        string? last = null;
        Interlocked.Increment(ref _loads);
        // Paced, a timeout per page: at 100,000 models this is two hundred pages, and read back to back they kept the
        // request path's point reads waiting (PacedTableScan).
        await foreach (var row in PacedTableScan.ReadAsync(
            token => _storage.ModelsTable.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: token), _time, CancellationToken.None).ConfigureAwait(false))
        {
            // Rows come in partition order: one hash per model, however many versions and aliases it has.
            if (!string.Equals(row.PartitionKey, last, StringComparison.Ordinal) && row.PartitionKey.StartsWith(prefix, StringComparison.Ordinal))
            {
                last = row.PartitionKey;
                hashes.Add(ModelNameSet.Hash(row.PartitionKey.AsSpan(prefix.Length), _seed));
            }
        }

        var entry = new Entry(ModelNameSet.FromHashes(hashes, _seed), epoch, started, new ReadBudget(_time, AbsentReadsPerSecond))
        {
            // Loaded ahead of any request (CatchUpAsync): the first to go when room is needed, until a request uses it.
            LastUsed = touch ? started : 0,
            // Names written to the feed while the rows were read are added by the next update (added twice is added once).
            FeedFromTicks = nowTicks - RegistryNameFeed.ClockMargin.Ticks,
            FullLoadedAtTicks = nowTicks,
        };
        Keep(tenant, entry);
        return entry;
    }

    private void Keep(string tenant, Entry entry)
    {
        lock (_evicting)
        {
            var previous = _sets.TryGetValue(tenant, out var old) ? old : null;
            _sets[tenant] = entry;
            _names += entry.Names.Count - (previous?.Names.Count ?? 0);
            // Evicting scans the held tenants (at most MaxTenants): it runs only when a set is loaded, never per request.
            while (_sets.Count > _maxTenants || (_names > _maxNames && _sets.Count > 1))
            {
                string? oldest = null;
                var oldestUse = long.MaxValue;
                foreach (var (name, held) in _sets)
                {
                    if (!ReferenceEquals(held, entry) && held.LastUsed < oldestUse)
                    {
                        oldest = name;
                        oldestUse = held.LastUsed;
                    }
                }

                if (oldest is null || !_sets.TryRemove(oldest, out var evicted))
                {
                    break;
                }

                _names -= evicted.Names.Count;
            }
        }
    }

    private sealed class Entry
    {
        public Entry(ModelNameSet names, string? epoch, long loadedAt, ReadBudget absentReads)
        {
            Names = names;
            Epoch = epoch;
            LoadedAt = loadedAt;
            AbsentReads = absentReads;
        }

        /// <summary>The tenant's registry reads for names this set lacks.</summary>
        public ReadBudget AbsentReads { get; }

        /// <summary>
        /// Names this set lacks that were let through to the registry lately, and when: the burst of requests that
        /// follows a publish (a dozen callers of a model published a moment ago) spends one unit of the budget, not one
        /// each. Bounded by the budget itself (at most <see cref="AbsentReadsPerSecond"/> names a second join it).
        /// </summary>
        private ConcurrentDictionary<string, long> Recent { get; } = new(StringComparer.Ordinal);

        /// <summary>True when <paramref name="model"/> was let through within <see cref="RecentFor"/>.</summary>
        public bool WasLetThrough(string model, long now, TimeProvider time) =>
            !Recent.IsEmpty && Recent.TryGetValue(model, out var at) && time.GetElapsedTime(at, now) < RecentFor;

        /// <summary>Takes a unit of the budget for <paramref name="model"/>; true when one was left.</summary>
        public bool LetThrough(string model, long now)
        {
            if (!AbsentReads.TryTake())
            {
                return false;
            }

            if (Recent.Count >= MaxRecent)
            {
                Recent.Clear();
            }

            Recent[model] = now;
            return true;
        }

        public ModelNameSet Names { get; }

        public string? Epoch { get; }

        /// <summary>UTC ticks from which the next update reads the name feed.</summary>
        public long FeedFromTicks { get; init; }

        /// <summary>UTC ticks of the last read of all the tenant's names.</summary>
        public long FullLoadedAtTicks { get; init; }

        public long LoadedAt { get; }

        /// <summary>A timestamp, written racily by requests: an approximate recency is enough to pick what to evict.</summary>
        public long LastUsed { get; set; }
    }
}
