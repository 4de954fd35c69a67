using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Serverless.Core.Concurrency;
using Serverless.Core.Sharding;

namespace Serverless.Scoring;

/// <summary>
/// ONNX Runtime sessions in a <see cref="MemoryCache"/> bounded in bytes. A missing model is loaded
/// once however many requests wait for it (single flight); an evicted session is disposed only after
/// the last request using it has finished (see <see cref="ModelSession"/>). Eviction happens only when
/// the budget is reached, least recently used first, except that a session a warm-up loaded and no
/// request has used yet goes before any used one (<see cref="SessionUse.Warmup"/>), and a pinned session
/// (<see cref="SetPins"/>, <c>serverless scale MODEL --min-resident</c>) is never evicted while pinned, within the
/// shard's pinned budget. Loads wait for a slot of the shard's <see cref="LoadScheduler"/>: different models load in
/// parallel up to its bound, and loads that requests wait on go before warm-ups.
/// </summary>
/// <remarks>
/// Each cache entry owns one reference to its session. A warm-up's session enters at low priority (MemoryCache
/// compacts low before normal, least recently accessed first within each); its first use puts it back at normal
/// priority by replacing the entry with one that takes its own reference, while the replaced entry's eviction
/// releases the old one, so references stay balanced whatever eviction does in between.
/// </remarks>
public sealed class SessionCache : IDisposable
{
    /// <summary>Share of the budget freed beyond what a new session needs when the cache is full, so that the next few loads find room.</summary>
    private const double CompactionShare = 0.05;

    private readonly MemoryCache _cache;
    private readonly long _budget;
    private readonly SingleFlight<string, ModelSession> _loads = new(StringComparer.Ordinal);
    private readonly PostEvictionCallbackRegistration _onEvicted;
    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;
    private readonly Counter<long> _evictions;
    private readonly LoadScheduler _scheduler;
    private readonly long _pinnedBudget;

    // Pins: the keys wanted pinned (set by the shard's pin refresh) and the pinned sessions resident now, with their
    // bytes; guarded by _pinGate (changed every few seconds and on the insert of a wanted key, never on a hit).
    private readonly Lock _pinGate = new();
    private readonly Dictionary<string, ModelSession> _pinnedResident = new(StringComparer.Ordinal);
    private HashSet<string> _pinWanted = new(StringComparer.Ordinal);
    private long _pinnedBytes;
    private long _residentBytes;
    private int _loadCount;

    public SessionCache(IOptions<ShardOptions> options, IMeterFactory meterFactory)
        : this(options, meterFactory, new LoadScheduler(options, meterFactory))
    {
    }

    public SessionCache(IOptions<ShardOptions> options, IMeterFactory meterFactory, LoadScheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meterFactory);
        _scheduler = scheduler;
        _budget = options.Value.CacheBytes;
        _pinnedBudget = options.Value.EffectivePinnedBytes;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = _budget, CompactionPercentage = CompactionShare, TrackStatistics = true });
        _onEvicted = new PostEvictionCallbackRegistration { EvictionCallback = OnEvicted };
        var meter = meterFactory.Create("Serverless.Shard");
        _hits = meter.CreateCounter<long>("serverless.cache.hits");
        _misses = meter.CreateCounter<long>("serverless.cache.misses");
        _evictions = meter.CreateCounter<long>("serverless.cache.evictions");
        meter.CreateObservableGauge("serverless.cache.resident_bytes", () => Interlocked.Read(ref _residentBytes), "By");
        meter.CreateObservableGauge("serverless.cache.pinned_bytes", () => PinnedBytes, "By", "Bytes of pinned sessions resident (never evicted), within Shard__PinnedBytes");
    }

    /// <summary>The shard's load slots (test hook: concurrency and order of loads).</summary>
    public LoadScheduler Loads => _scheduler;

    /// <summary>Bytes charged by pinned sessions resident now.</summary>
    public long PinnedBytes
    {
        get
        {
            lock (_pinGate)
            {
                return _pinnedBytes;
            }
        }
    }

    /// <summary>The pinned budget (<see cref="ShardOptions.EffectivePinnedBytes"/>).</summary>
    public long PinnedBudget => _pinnedBudget;

    /// <summary>Whether the key's session is resident and pinned.</summary>
    public bool IsPinned(string key)
    {
        lock (_pinGate)
        {
            return _pinnedResident.ContainsKey(key);
        }
    }

    /// <summary>Bytes charged by resident sessions.</summary>
    public long ResidentBytes => Interlocked.Read(ref _residentBytes);

    /// <summary>How many loads have run (test hook for single flight).</summary>
    public int LoadCount => Volatile.Read(ref _loadCount);

    /// <summary>Number of resident sessions.</summary>
    public int Count => _cache.Count;

    /// <summary>
    /// A lease on the session for <paramref name="key"/>, loading it with <paramref name="load"/> when it
    /// is not resident. The load runs once for all waiters and is not cancelled by one waiter leaving.
    /// </summary>
    public ValueTask<SessionLease> AcquireAsync(string key, Func<CancellationToken, Task<ModelSession>> load, CancellationToken cancellationToken) =>
        AcquireAsync(key, load, SessionUse.Request, cancellationToken);

    /// <summary>
    /// As <see cref="AcquireAsync(string, Func{CancellationToken, Task{ModelSession}}, CancellationToken)"/>, saying
    /// whether a request will use the session or a warm-up only wants it loaded.
    /// </summary>
    public async ValueTask<SessionLease> AcquireAsync(string key, Func<CancellationToken, Task<ModelSession>> load, SessionUse use, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue(key, out ModelSession? resident) && resident is not null && resident.TryAcquire())
        {
            _hits.Add(1);
            if (use == SessionUse.Request && resident.NeverUsed)
            {
                PromoteOnFirstUse(key, resident);
            }

            return new SessionLease(resident, cacheHit: true);
        }

        _misses.Add(1);
        // Counted in as a waiter of the load in progress, or of the one this starts.
        var pending = _loads.JoinOrStart<PendingLoad, (SessionCache Cache, Func<CancellationToken, Task<ModelSession>> Load, SessionUse Use)>(
            key, (this, load, use), static (k, s, p) => s.Cache.LoadAndInsertAsync(k, s.Load, s.Use, p));
        if (use == SessionUse.Request)
        {
            // A request waits on this load (perhaps a warm-up's it joined): it must not queue behind warm-ups.
            pending.Promote();
        }

        ModelSession session;
        bool acquired;
        try
        {
            session = await pending.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            acquired = session.TryAcquire();
        }
        finally
        {
            pending.Leave();
        }

        if (acquired)
        {
            if (use == SessionUse.Request && session.NeverUsed)
            {
                // A request joined a warm-up's load.
                PromoteOnFirstUse(key, session);
            }

            return new SessionLease(session, cacheHit: false);
        }

        // Evicted (and disposed) between its load and this line, e.g. a model larger than the whole
        // budget: serve this request from a private, uncached session rather than loading in a loop.
        // Its one reference is this request's, so it is disposed when the lease ends.
        var own = await load(cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _loadCount);
        return new SessionLease(own, cacheHit: false);
    }

    /// <summary>Drops a session from the cache (it is disposed after its last run).</summary>
    public void Remove(string key) => _cache.Remove(key);

    /// <summary>True when the key's session is resident (a request for it needs no load).</summary>
    public bool Contains(string key) => _cache.TryGetValue(key, out _);

    public void Dispose()
    {
        _cache.Dispose();
    }

    /// <summary>
    /// The load every waiter shares. Its key stays in <see cref="_loads"/> until it ends, i.e. after the insert, so
    /// no request misses both the cache and the load; a failed load is forgotten and retried.
    /// </summary>
    private async Task<ModelSession> LoadAndInsertAsync(string key, Func<CancellationToken, Task<ModelSession>> load, SessionUse use, PendingLoad pending)
    {
        if (use == SessionUse.Request)
        {
            pending.Promote();
        }

        // One of the shard's load slots, requests' loads first. Granted at once when one is free (no thread hop: the
        // load's first part runs on the caller's thread until its read awaits), else handed over by a load ending.
        using var ticket = _scheduler.Enqueue(pending.RequestWaits ? SessionUse.Request : SessionUse.Warmup);
        pending.Queued(ticket);
        await ticket.Started.ConfigureAwait(false);
        // A load is shared by every waiter, so no single request's token may cancel it.
        var session = await load(CancellationToken.None).ConfigureAwait(false);
        Interlocked.Increment(ref _loadCount);
        // A reference for the waiters (on top of the cache entry's), until the last has its own.
        session.TryAcquire();
        pending.Hold(session);
        if (use == SessionUse.Warmup)
        {
            session.MarkNeverUsed();
        }

        if (!TryInsertPinned(key, session))
        {
            Insert(key, session, use == SessionUse.Warmup ? CacheItemPriority.Low : CacheItemPriority.Normal);
        }

        return session;
    }

    /// <summary>
    /// Sets which keys are pinned: resident sessions of keys no longer listed go back to ordinary eviction (least
    /// recently used), resident sessions of listed keys are pinned while the budget allows, and a listed key loaded
    /// later is pinned as it is inserted. The keys that are wanted but did not fit the budget are returned (the caller
    /// says so in its log): those models are served, and evicted, as ordinary ones.
    /// </summary>
    public IReadOnlyList<string> SetPins(IReadOnlyCollection<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var wanted = new HashSet<string>(keys, StringComparer.Ordinal);
        List<(string Key, ModelSession Session)> unpin = [];
        lock (_pinGate)
        {
            _pinWanted = wanted;
            foreach (var (key, session) in _pinnedResident)
            {
                if (!wanted.Contains(key))
                {
                    unpin.Add((key, session));
                }
            }

            foreach (var (key, session) in unpin)
            {
                _pinnedResident.Remove(key);
                _pinnedBytes -= session.SizeBytes;
            }
        }

        foreach (var (key, session) in unpin)
        {
            // Back among used sessions, accessed now; the new entry takes its own reference, the replaced one releases.
            if (session.TryAcquire())
            {
                Insert(key, session, CacheItemPriority.Normal, replacesItself: true);
            }
        }

        List<string> overBudget = [];
        foreach (var key in wanted)
        {
            if (_cache.TryGetValue(key, out ModelSession? resident) && resident is not null && !IsPinned(key) && resident.TryAcquire())
            {
                if (!TryInsertPinned(key, resident, replacesItself: true))
                {
                    resident.Release();
                    overBudget.Add(key);
                }
            }
        }

        return overBudget;
    }

    /// <summary>
    /// Inserts a session of a key wanted pinned at <see cref="CacheItemPriority.NeverRemove"/> when the pinned budget
    /// has room for it; false (nothing inserted) when the key is not wanted pinned or the budget is full.
    /// </summary>
    private bool TryInsertPinned(string key, ModelSession session, bool replacesItself = false)
    {
        lock (_pinGate)
        {
            if (!_pinWanted.Contains(key) || _pinnedResident.ContainsKey(key) || _pinnedBytes + session.SizeBytes > _pinnedBudget)
            {
                return false;
            }

            _pinnedResident[key] = session;
            _pinnedBytes += session.SizeBytes;
        }

        // A pinned session counts as used: a request may well never have touched it (prewarmed at start).
        session.TryMarkUsed();
        Insert(key, session, CacheItemPriority.NeverRemove, replacesItself);
        return true;
    }

    /// <summary>Puts a session in the cache; the entry owns the session's current reference (one per entry).</summary>
    private void Insert(string key, ModelSession session, CacheItemPriority priority, bool replacesItself = false)
    {
        if (!replacesItself)
        {
            // A promotion replaces the session's own entry: MemoryCache counts the replaced entry's size out.
            MakeRoomFor(session.SizeBytes);
        }

        Interlocked.Add(ref _residentBytes, session.SizeBytes);
        var entry = new MemoryCacheEntryOptions { Size = session.SizeBytes, Priority = priority };
        entry.PostEvictionCallbacks.Add(_onEvicted);
        // If the entry does not fit, MemoryCache refuses it and calls OnEvicted (reason Capacity) at
        // once: the session still answers the requests waiting for it and is disposed after them.
        _cache.Set(key, session, entry);
    }

    /// <summary>
    /// Evicts until <paramref name="bytes"/> more fit in the budget (and <see cref="CompactionShare"/> of it more),
    /// never-used warm-ups first, then least recently used. MemoryCache alone would refuse the new session and
    /// evict nothing unless the cache were already above its compaction watermark, so a model arriving at a nearly
    /// full cache would never become resident. A session larger than the whole budget evicts nothing: it serves
    /// its requests uncached.
    /// </summary>
    private void MakeRoomFor(long bytes)
    {
        if (bytes > _budget)
        {
            return;
        }

        // Compact takes a share of the entries by count: ask for whole entries of about the average size,
        // a few rounds at most when sizes are uneven.
        for (var round = 0; round < 4; round++)
        {
            var count = _cache.Count;
            var size = _cache.GetCurrentStatistics()?.CurrentEstimatedSize ?? Interlocked.Read(ref _residentBytes);
            var excess = size + bytes - _budget;
            if (excess <= 0 || count == 0)
            {
                return;
            }

            var average = Math.Max(1, size / count);
            var entries = Math.Min(count, ((excess + (long)(_budget * CompactionShare)) / average) + 1);
            _cache.Compact(Math.Min(1.0, (entries + 0.5) / count));
        }
    }

    /// <summary>
    /// A warm-up's session is used for the first time: it takes its place among used sessions (normal priority,
    /// accessed now). The new entry takes a reference of its own; the entry it replaces releases its one.
    /// </summary>
    private void PromoteOnFirstUse(string key, ModelSession session)
    {
        if (session.TryMarkUsed() && session.TryAcquire())
        {
            // Pinned meanwhile (a pin marks it used, so this is a narrow race): it keeps the pin's priority.
            Insert(key, session, IsPinned(key) ? CacheItemPriority.NeverRemove : CacheItemPriority.Normal, replacesItself: true);
        }
    }

    private void OnEvicted(object key, object? value, EvictionReason reason, object? state)
    {
        if (value is not ModelSession session)
        {
            return;
        }

        if (reason != EvictionReason.Replaced)
        {
            _evictions.Add(1);
            // A pinned session leaves only when unloaded or refused at insert: its pin's bytes go with it.
            lock (_pinGate)
            {
                if (_pinnedResident.TryGetValue((string)key, out var pinned) && ReferenceEquals(pinned, session))
                {
                    _pinnedResident.Remove((string)key);
                    _pinnedBytes -= session.SizeBytes;
                }
            }
        }

        Interlocked.Add(ref _residentBytes, -session.SizeBytes);
        session.Release();
    }
}
