using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Serverless.Core.Sharding;

namespace Serverless.Core.Scoring;

/// <summary>
/// ONNX Runtime sessions in a <see cref="MemoryCache"/> bounded in bytes. A missing model is loaded
/// once however many requests wait for it (single flight); an evicted session is disposed only after
/// the last request using it has finished (see <see cref="ModelSession"/>).
/// </summary>
public sealed class SessionCache : IDisposable
{
    private readonly MemoryCache _cache;
    private readonly ConcurrentDictionary<string, Lazy<Task<ModelSession>>> _loads = new(StringComparer.Ordinal);
    private readonly PostEvictionCallbackRegistration _onEvicted;
    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;
    private readonly Counter<long> _evictions;
    private long _residentBytes;
    private int _loadCount;

    public SessionCache(IOptions<ShardOptions> options, IMeterFactory meterFactory)
    {
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = options.Value.CacheBytes, CompactionPercentage = 0.10 });
        _onEvicted = new PostEvictionCallbackRegistration { EvictionCallback = OnEvicted };
        var meter = meterFactory.Create("Serverless.Shard");
        _hits = meter.CreateCounter<long>("serverless.cache.hits");
        _misses = meter.CreateCounter<long>("serverless.cache.misses");
        _evictions = meter.CreateCounter<long>("serverless.cache.evictions");
        meter.CreateObservableGauge("serverless.cache.resident_bytes", () => Interlocked.Read(ref _residentBytes), "By");
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
    public async ValueTask<SessionLease> AcquireAsync(string key, Func<CancellationToken, Task<ModelSession>> load, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue(key, out ModelSession? resident) && resident is not null && resident.TryAcquire())
        {
            _hits.Add(1);
            return new SessionLease(resident, cacheHit: true);
        }

        _misses.Add(1);
        var lazy = _loads.GetOrAdd(key, k => new Lazy<Task<ModelSession>>(() => LoadAndInsertAsync(k, load)));
        var session = await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (session.TryAcquire())
        {
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

    private async Task<ModelSession> LoadAndInsertAsync(string key, Func<CancellationToken, Task<ModelSession>> load)
    {
        try
        {
            // A load is shared by every waiter, so no single request's token may cancel it.
            var session = await Task.Run(() => load(CancellationToken.None)).ConfigureAwait(false);
            Interlocked.Increment(ref _loadCount);
            Interlocked.Add(ref _residentBytes, session.SizeBytes);
            var entry = new MemoryCacheEntryOptions { Size = session.SizeBytes, Priority = CacheItemPriority.Normal };
            entry.PostEvictionCallbacks.Add(_onEvicted);
            // If the entry does not fit, MemoryCache refuses it and calls OnEvicted (reason Capacity) at
            // once: the session still answers the requests waiting for it and is disposed after them.
            _cache.Set(key, session, entry);
            return session;
        }
        finally
        {
            // Only this load's entry can be under the key while it runs, so removing by key is safe; it
            // happens after the insert, so no request misses both; a failed load is forgotten and retried.
            _loads.TryRemove(key, out _);
        }
    }

    private void OnEvicted(object key, object? value, EvictionReason reason, object? state)
    {
        if (value is not ModelSession session)
        {
            return;
        }

        _evictions.Add(1);
        Interlocked.Add(ref _residentBytes, -session.SizeBytes);
        session.Release();
    }
}
