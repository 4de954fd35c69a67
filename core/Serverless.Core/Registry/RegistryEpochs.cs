using System.Collections.Concurrent;
using Serverless.Core.Concurrency;
using Serverless.Core.Storage;

namespace Serverless.Core.Registry;

/// <summary>
/// Change notification for the registry, so the request path need not re-read a model's rows every few seconds to
/// notice changes. Every writer of a tenant's registry rows (publish, alias move, retire, delete) also gives the
/// tenant a new epoch (<see cref="BumpAsync"/>); every router and shard reads all epochs once a second
/// (<see cref="PollAsync"/>, one query of one partition, whatever the number of models). Rows read while the
/// tenant had epoch E stay valid while the last poll, at most <see cref="HealthyFor"/> old, still says E: a change
/// is seen within about a second, as it was within the 2 s freshness before, and a model idle for minutes is not
/// re-read on its next request. When polling fails the freshness window alone applies again.
/// </summary>
/// <remarks>
/// The epoch a read is stamped with is taken before the read starts, so a change that lands between the stamp and
/// the read costs one extra read (the next poll shows a new epoch), never a missed change. A writer that stops
/// between its write and its bump leaves rows valid until <see cref="ModelRegistry"/>'s upper bound on a stamped
/// read's age.
/// </remarks>
public sealed class RegistryEpochs
{
    /// <summary>The tenants' name feed: written by the bumps here, read by the name sets (<see cref="ModelNameIndex"/>).</summary>
    public RegistryNameFeed NameFeed { get; }

    /// <summary>How often a router or shard reads the epochs.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    /// <summary>How old the last successful poll may be for its epochs to count.</summary>
    public static readonly TimeSpan HealthyFor = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How soon after one on-demand read of a key (<see cref="RefreshAsync"/>) the next may start: what a flood of
    /// names a key's set lacks costs storage, at most one point read per key per spacing, whatever the request rate.
    /// 200 ms: a publish or a new tenant is still seen within a fifth of a second under a flood, and a flood of junk
    /// names costs Azurite (one thread) 5 reads a second per key, not 20 (at 50 ms its reads were an eighth of a core
    /// under bench hostile, on the same cores as the real tenant).
    /// </summary>
    public static readonly TimeSpan RefreshSpacing = TimeSpan.FromMilliseconds(200);

    /// <summary>Keys with on-demand read state held at once (real tenants and <see cref="TenantsKey"/>); past it the state is dropped.</summary>
    private const int MaxRefreshKeys = 10_000;

    private readonly StorageClients _storage;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, KeyRefresh> _refreshes = new(StringComparer.Ordinal);
    private readonly Lock _writing = new();
    private readonly CoalescingRunner<string> _bumps;
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _touched = new(StringComparer.Ordinal);
    private Snapshot? _last;
    private long _refreshReads;

    public RegistryEpochs(StorageClients storage, TimeProvider time)
    {
        // A shared bump is not cancelled by one caller leaving (CoalescingRunner); the write is bounded by the client's own timeouts.
        NameFeed = new RegistryNameFeed(storage, time);
        _bumps = new CoalescingRunner<string>(BumpWithNamesAsync, StringComparer.Ordinal);
        _storage = storage;
        _time = time;
    }

    /// <summary>
    /// The tenant's epoch as of the last poll ("" when it has none yet), or null when there is no recent poll
    /// (then nothing can be stamped, and reads fall back to their freshness window).
    /// </summary>
    public string? Current(string tenant)
    {
        var last = Volatile.Read(ref _last);
        if (last is null || _time.GetElapsedTime(last.StartedAt) > HealthyFor)
        {
            return null;
        }

        return last.Epochs.TryGetValue(tenant, out var epoch) ? epoch : "";
    }

    /// <summary>
    /// The tenants whose registry has an epoch, as of the last poll (<see cref="TenantsKey"/> aside); empty when there is
    /// no recent poll.
    /// </summary>
    public IEnumerable<string> Tenants()
    {
        var last = Volatile.Read(ref _last);
        if (last is null || _time.GetElapsedTime(last.StartedAt) > HealthyFor)
        {
            yield break;
        }

        foreach (var key in last.Epochs.Keys)
        {
            if (!string.Equals(key, TenantsKey, StringComparison.Ordinal))
            {
                yield return key;
            }
        }
    }

    /// <summary>On-demand point reads made so far (<see cref="RefreshAsync"/>).</summary>
    public long RefreshReads => Interlocked.Read(ref _refreshReads);

    /// <summary>Reads every tenant's epoch; the result counts from when the read started.</summary>
    public async Task PollAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var epochs = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var row in _storage.RegistryEpochsTable.QueryAsync<RegistryEpochEntity>(
            e => e.PartitionKey == RegistryEpochEntity.PartitionKeyValue, select: ["RowKey", "Epoch"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            epochs[row.RowKey] = row.Epoch;
        }

        lock (_writing)
        {
            // A key read on demand after this poll started knows better than the poll: keep what it read.
            foreach (var (key, refresh) in _refreshes)
            {
                if (refresh.Read is { } read && read.StartedAt > started)
                {
                    Set(epochs, key, read.Epoch);
                }
            }

            Volatile.Write(ref _last, new Snapshot(started, epochs));
        }
    }

    /// <summary>
    /// Makes <see cref="Current"/> for <paramref name="key"/> come from a read of its row that started at or after
    /// <paramref name="since"/> (a <see cref="TimeProvider"/> timestamp: when the caller's request arrived), for a caller
    /// whose name set lacks a name that may have been created since the last poll (a model published, a tenant added,
    /// a moment ago). Callers join a read in progress that started late enough; reads of one key start at least
    /// <see cref="RefreshSpacing"/> apart. Failures are swallowed (the poll's answer stays).
    /// </summary>
    public Task RefreshAsync(string key, long since)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_refreshes.Count >= MaxRefreshKeys && !_refreshes.ContainsKey(key))
        {
            // Keys are real tenants (their names come from authenticated keys) and the tenants key: this only
            // guards memory. Dropping the state loses nothing but the spacing history.
            _refreshes.Clear();
        }

        var state = _refreshes.GetOrAdd(key, static _ => new KeyRefresh());
        return state.AfterAsync(this, key, since);
    }

    /// <summary>
    /// Starts an on-demand read of <paramref name="key"/>'s epoch when one may start at once (none running, the last
    /// started at least <see cref="RefreshSpacing"/> ago); false, and nothing started, otherwise. For a caller that may
    /// wait for a read of a few milliseconds but never for the spacing: under a flood, at most one caller per spacing waits.
    /// </summary>
    public bool TryRefreshNow(string key, out Task read)
    {
        ArgumentNullException.ThrowIfNull(key);
        var now = _time.GetTimestamp();
        if ((_refreshes.Count < MaxRefreshKeys || _refreshes.ContainsKey(key))
            && _refreshes.GetOrAdd(key, static _ => new KeyRefresh()).CanStartAt(now, _time))
        {
            read = RefreshAsync(key, now);
            return true;
        }

        read = Task.CompletedTask;
        return false;
    }

    private async Task ReadOneAsync(string key, KeyRefresh state, long startAt)
    {
        var wait = _time.GetElapsedTime(_time.GetTimestamp(), startAt);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, _time).ConfigureAwait(false);
        }

        var started = _time.GetTimestamp();
        try
        {
            Interlocked.Increment(ref _refreshReads);
            using var timeout = new CancellationTokenSource(HealthyFor);
            var row = await _storage.RegistryEpochsTable.GetEntityIfExistsAsync<RegistryEpochEntity>(
                RegistryEpochEntity.PartitionKeyValue, key, ["Epoch"], timeout.Token).ConfigureAwait(false);
            var epoch = row.HasValue ? row.Value!.Epoch : "";
            state.Read = new KeyRead(started, epoch);
            lock (_writing)
            {
                var last = Volatile.Read(ref _last);
                if (last is not null && !string.Equals(last.Epochs.GetValueOrDefault(key, ""), epoch, StringComparison.Ordinal))
                {
                    // Copy on write: readers hold the old snapshot without locks; this runs at most once per key per spacing.
                    var epochs = new Dictionary<string, string>(last.Epochs, StringComparer.Ordinal);
                    Set(epochs, key, epoch);
                    Volatile.Write(ref _last, new Snapshot(last.StartedAt, epochs));
                }
            }
        }
        catch (Exception e) when (e is Azure.RequestFailedException || StorageFaults.IsTransient(e, CancellationToken.None))
        {
            // The poll's answer stays; the next caller tries again.
        }
    }

    private static void Set(Dictionary<string, string> epochs, string key, string epoch)
    {
        if (epoch.Length == 0)
        {
            epochs.Remove(key);
        }
        else
        {
            epochs[key] = epoch;
        }
    }

    /// <summary>
    /// The epoch of Table <c>tenants</c> itself (which tenants exist): a row key no tenant can have (names start with
    /// a letter or digit), read by the same poll, bumped when a tenant is created, so an unknown tenant name in a key
    /// is answered from the set of tenant names while it holds (<see cref="Tenancy.TenantStore"/>).
    /// </summary>
    public const string TenantsKey = "_tenants";

    /// <summary>
    /// Gives the tenant a new epoch, after a change to its registry rows. Concurrent changes of one tenant share bumps
    /// (<see cref="CoalescingRunner{TKey}"/>): each caller returns after a bump that started after its call, so readers
    /// still see every change, and a folder of publishes landing together costs a couple of writes, not one each.
    /// </summary>
    public Task BumpAsync(string tenant, CancellationToken cancellationToken) => BumpAsync(tenant, model: null, cancellationToken);

    /// <summary>
    /// As <see cref="BumpAsync(string, CancellationToken)"/>, after a change to <paramref name="model"/>'s rows: the bump
    /// also writes the model's name to the tenant's name feed (<see cref="RegistryNameFeed"/>) before the new epoch, so
    /// readers add it to their sets instead of reading all the tenant's names again. Names of changes that share a bump
    /// share its row.
    /// </summary>
    public Task BumpAsync(string tenant, string? model, CancellationToken cancellationToken)
    {
        if (model is not null)
        {
            _touched.GetOrAdd(tenant, static _ => new ConcurrentQueue<string>()).Enqueue(model);
        }

        return _bumps.RunAsync(tenant, cancellationToken);
    }

    /// <summary>One coalesced bump: the names touched since the last one, then the new epoch.</summary>
    private async Task BumpWithNamesAsync(string tenant)
    {
        HashSet<string>? names = null;
        if (_touched.TryGetValue(tenant, out var queue))
        {
            while (queue.TryDequeue(out var name))
            {
                (names ??= new HashSet<string>(StringComparer.Ordinal)).Add(name);
            }
        }

        if (names is not null)
        {
            try
            {
                await NameFeed.AppendAsync(tenant, names, CancellationToken.None).ConfigureAwait(false);
            }
            catch
            {
                // Kept for the next bump, which a caller of this one (it fails) or the next change starts.
                foreach (var name in names)
                {
                    queue!.Enqueue(name);
                }

                throw;
            }
        }

        await BumpAsync(_storage, tenant, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Gives <paramref name="key"/> (a tenant, or <see cref="TenantsKey"/>) a new epoch; for writers without a poller (tools).</summary>
    public static async Task BumpAsync(StorageClients storage, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(storage);
        var row = new RegistryEpochEntity { RowKey = key, Epoch = Guid.NewGuid().ToString("N") };
        await storage.RegistryEpochsTable.UpsertEntityAsync(row, Azure.Data.Tables.TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
    }

    private sealed record Snapshot(long StartedAt, Dictionary<string, string> Epochs);

    private sealed record KeyRead(long StartedAt, string Epoch);

    /// <summary>One key's on-demand reads: the one in progress (and when it starts) and the last that ended.</summary>
    private sealed class KeyRefresh
    {
        private readonly Lock _lock = new();
        private Task? _current;
        private long _currentStartsAt = long.MinValue;
        private long _lastEndedStartedAt = long.MinValue;

        public KeyRead? Read { get; set; }

        /// <summary>True when no read is running and the spacing since the last one's start has passed at <paramref name="now"/>.</summary>
        public bool CanStartAt(long now, TimeProvider time)
        {
            lock (_lock)
            {
                return _current is not { IsCompleted: false }
                    && (_currentStartsAt == long.MinValue || now >= _currentStartsAt + (long)(RefreshSpacing.TotalSeconds * time.TimestampFrequency));
            }
        }

        public async Task AfterAsync(RegistryEpochs epochs, string key, long since)
        {
            while (true)
            {
                Task wait;
                bool lateEnough;
                lock (_lock)
                {
                    if (_lastEndedStartedAt >= since)
                    {
                        return;
                    }

                    if (_current is { IsCompleted: false } current)
                    {
                        wait = current;
                        lateEnough = _currentStartsAt >= since;
                    }
                    else
                    {
                        var now = epochs._time.GetTimestamp();
                        var spaced = _currentStartsAt == long.MinValue
                            ? now
                            : _currentStartsAt + (long)(RefreshSpacing.TotalSeconds * epochs._time.TimestampFrequency);
                        var startsAt = Math.Max(now, spaced);
                        _currentStartsAt = startsAt;
                        wait = _current = RunAsync(epochs, key, startsAt);
                        lateEnough = true;
                    }
                }

                // A read that started before the caller arrived may have missed its change: wait it out, then the next.
                await wait.ConfigureAwait(false);
                if (lateEnough)
                {
                    return;
                }
            }
        }

        private async Task RunAsync(RegistryEpochs epochs, string key, long startsAt)
        {
            await Task.Yield();
            await epochs.ReadOneAsync(key, this, startsAt).ConfigureAwait(false);
            lock (_lock)
            {
                _lastEndedStartedAt = Math.Max(_lastEndedStartedAt, startsAt);
            }
        }
    }
}
