using Microsoft.Extensions.Caching.Memory;
using Serverless.Core.Concurrency;
using Serverless.Core.Serving;

namespace Serverless.Core.Storage;

/// <summary>
/// Storage reads of the request path (tenants, registry rows, placement rows, the live shards) through a short
/// freshness window, keeping the last value read for <see cref="StaleLimit"/>. When storage is unreachable
/// (<see cref="StorageFaults.IsTransient"/>) the caller gets the last known value instead of an error, and the
/// process's <see cref="StorageOutageBreaker"/> keeps every read off storage for a few seconds, then probes it
/// in the background while requests go on. Serving a model that is already resident must not depend on Table
/// storage being up at that moment; anything never read before still fails, with a 503 to retry.
/// With refresh-ahead, a key read in the last part of its freshness gets its value at once while one background
/// read refreshes it, so a key in steady use never makes a request wait on Table storage, and no value is ever
/// served past its freshness (a change in storage is seen as soon as before); only a key idle for longer than
/// its freshness is read on a request's path.
/// </summary>
public sealed class LastKnownGoodCache
{
    /// <summary>How long a value read once may stand in for storage while storage is away.</summary>
    public static readonly TimeSpan StaleLimit = TimeSpan.FromMinutes(15);

    /// <summary>
    /// The share of a value's freshness left when a read of it starts a background refresh (refresh-ahead):
    /// with 2 s of freshness, a key read 1 s or more after its last read is refreshed while it is still fresh.
    /// </summary>
    public const double RefreshAheadShare = 0.5;

    /// <summary>How long one read may take in all (the storage clients' own retries give up well before).</summary>
    private static readonly TimeSpan SharedReadTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a request waits on a storage read when nothing is known to stand in (<see cref="StorageOptions.RequestWaitMilliseconds"/>'s
    /// default). A hung storage (a paused emulator, a partitioned account) takes connections and answers nothing, and the
    /// SDK's own network timeout is 100 s: past this wait the request gets its 503 with Retry-After, the breaker opens (so
    /// the next requests do not wait at all), and the read itself goes on for the others, closing the breaker if it lands.
    /// </summary>
    public static readonly TimeSpan DefaultRequestWait = TimeSpan.FromMilliseconds(1500);

    private readonly IMemoryCache _cache;
    private readonly TimeSpan _requestWait;
    // One group for values of every type: a key always holds values of one type, so each read's boxed value
    // (reference types are not boxed) is cast back by the callers of that key.
    private readonly SingleFlight<string, object?> _reading = new(StringComparer.Ordinal);
    private readonly StorageOutageBreaker _breaker;
    private readonly TimeProvider _time;

    public LastKnownGoodCache(IMemoryCache cache, StorageOutageBreaker breaker, TimeProvider time)
        : this(cache, breaker, time, DefaultRequestWait)
    {
    }

    /// <summary>As above, with the wait a request gives a read when nothing is known (<see cref="DefaultRequestWait"/>).</summary>
    public LastKnownGoodCache(IMemoryCache cache, StorageOutageBreaker breaker, TimeProvider time, TimeSpan requestWait)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(requestWait, TimeSpan.Zero);
        _requestWait = requestWait;
        _cache = cache;
        _breaker = breaker;
        _time = time;
    }

    /// <summary>
    /// The fresh cached value of <paramref name="key"/>, else what <paramref name="load"/> reads now (kept fresh
    /// for <paramref name="freshFor"/>), else, when storage is unreachable, the last value read.
    /// </summary>
    public ValueTask<T> GetOrLoadAsync<T>(string key, TimeSpan freshFor, Func<CancellationToken, Task<T>> load, CancellationToken cancellationToken) =>
        GetOrLoadAsync(key, freshFor, absentFor: null, load, cancellationToken);

    /// <summary>
    /// As <see cref="GetOrLoadAsync{T}(string, TimeSpan, Func{CancellationToken, Task{T}}, CancellationToken)"/>; with
    /// <paramref name="absentFor"/> set, a null answer ("no such row") is fresh for that long and not kept past
    /// it, so a flood of made-up names neither becomes a flood of reads nor fills memory for <see cref="StaleLimit"/>.
    /// </summary>
    public ValueTask<T> GetOrLoadAsync<T>(string key, TimeSpan freshFor, TimeSpan? absentFor, Func<CancellationToken, Task<T>> load, CancellationToken cancellationToken) =>
        GetOrLoadAsync(key, freshFor, absentFor, refreshAhead: false, load, cancellationToken);

    /// <summary>
    /// As <see cref="GetOrLoadAsync{T}(string, TimeSpan, TimeSpan?, Func{CancellationToken, Task{T}}, CancellationToken)"/>;
    /// with <paramref name="refreshAhead"/>, a fresh value with less than <see cref="RefreshAheadShare"/> of its
    /// freshness left is answered at once and refreshed by one background read.
    /// </summary>
    public ValueTask<T> GetOrLoadAsync<T>(string key, TimeSpan freshFor, TimeSpan? absentFor, bool refreshAhead, Func<CancellationToken, Task<T>> load, CancellationToken cancellationToken) =>
        GetOrLoadAsync(key, freshFor, absentFor, refreshAhead, stamp: null, stampedFor: TimeSpan.Zero, load, cancellationToken);

    /// <summary>
    /// As <see cref="GetOrLoadAsync{T}(string, TimeSpan, TimeSpan?, bool, Func{CancellationToken, Task{T}}, CancellationToken)"/>;
    /// with a change stamp (<paramref name="stamp"/>: the current stamp of what the key depends on, or null when it
    /// cannot be known now), a value stays valid past its freshness, up to <paramref name="stampedFor"/> after its
    /// read, for as long as the stamp it was read under is still the current one. The stamp is taken before the read
    /// starts, so a change during the read shows as a new stamp and another read, never as a missed change.
    /// </summary>
    public async ValueTask<T> GetOrLoadAsync<T>(string key, TimeSpan freshFor, TimeSpan? absentFor, bool refreshAhead, Func<string?>? stamp, TimeSpan stampedFor, Func<CancellationToken, Task<T>> load, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(load);
        var now = _time.GetUtcNow();
        var known = _cache.TryGetValue(key, out LastKnownGood<T>? entry) ? entry : null;
        var currentStamp = stamp?.Invoke();
        if (known is not null && known.IsStampValid(currentStamp, now, stampedFor))
        {
            return known.Value;
        }

        if (known is not null && known.IsFresh(now))
        {
            if (refreshAhead && known.IsDueForRefresh(now, freshFor * RefreshAheadShare) && !_breaker.IsOpen(now) && known.TryStartRefresh())
            {
                _ = RefreshAsync(key, known, freshFor, absentFor, currentStamp, load);
            }

            return known.Value;
        }

        if (_breaker.IsOpen(now))
        {
            return known is not null ? known.Value : throw Unavailable(null);
        }

        if (known is not null && _breaker.IsHalfOpen(now))
        {
            if (_breaker.TryStartProbe())
            {
                _ = ProbeAsync(key, freshFor, absentFor, currentStamp, load);
            }

            return known.Value;
        }

        try
        {
            // Callers that find the key being read join that read: a model's first requests arriving together,
            // or a request and the prefetch started for it (ReplicaResolver.Prefetch), make one storage read.
            var read = JoinOrStartRead(key, freshFor, absentFor, currentStamp, load);
            // A read that is done (or lands within the wait) costs no timer; one still going past it is an outage to this caller.
            return (T)(read.IsCompleted ? await read.ConfigureAwait(false) : await read.WaitAsync(_requestWait, _time, cancellationToken).ConfigureAwait(false))!;
        }
        catch (TimeoutException) when (!cancellationToken.IsCancellationRequested)
        {
            _breaker.Failed(_time.GetUtcNow());
            return known is not null ? known.Value : throw Unanswered(_requestWait);
        }
        catch (Exception e) when (StorageFaults.IsTransient(e, cancellationToken))
        {
            return known is not null ? known.Value : throw Unavailable(e);
        }
    }

    /// <summary>The read of <paramref name="key"/> in progress, or a new one (single flight).</summary>
    private Task<object?> JoinOrStartRead<T>(string key, TimeSpan freshFor, TimeSpan? absentFor, string? stamp, Func<CancellationToken, Task<T>> load) =>
        _reading.JoinOrStart(
            key,
            (Cache: this, FreshFor: freshFor, AbsentFor: absentFor, Stamp: stamp, Load: load),
            static (k, s) => s.Cache.ReadSharedAsync(k, s.FreshFor, s.AbsentFor, s.Stamp, s.Load));

    /// <summary>
    /// The one read of a key that every caller waits on (requests, refresh-ahead, the breaker's probe): it counts
    /// against or for the breaker and keeps what it read. It runs on its own timeout rather than a caller's token,
    /// so a caller that gives up does not fail the others; each waits within its own. The key is free again once
    /// it ends (after the store), so no caller misses both the value and the read.
    /// </summary>
    private async Task<object?> ReadSharedAsync<T>(string key, TimeSpan freshFor, TimeSpan? absentFor, string? stamp, Func<CancellationToken, Task<T>> load)
    {
        T value;
        using (var timeout = new CancellationTokenSource(SharedReadTimeout))
        {
            try
            {
                value = await load(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (StorageFaults.IsTransient(e, CancellationToken.None))
            {
                _breaker.Failed(_time.GetUtcNow());
                throw;
            }
        }

        _breaker.Succeeded();
        Store(key, value, freshFor, absentFor, stamp);
        return value;
    }

    /// <summary>The last value read for <paramref name="key"/>, fresh or not (false when none is kept).</summary>
    public bool TryGetKnown<T>(string key, out T value)
    {
        if (_cache.TryGetValue(key, out LastKnownGood<T>? entry) && entry is not null)
        {
            value = entry.Value;
            return true;
        }

        value = default!;
        return false;
    }

    /// <summary>The next read of <paramref name="key"/> goes to storage; the old value still stands in if storage is away.</summary>
    public void Expire<T>(string key)
    {
        if (_cache.TryGetValue(key, out LastKnownGood<T>? entry) && entry is not null)
        {
            entry.FreshUntil(DateTimeOffset.MinValue);
        }
    }

    // Nothing to stand in: a 503 the caller may retry, not a 500 that blames the request or the server.
    private static ServingException Unavailable(Exception? cause) =>
        new(ServingError.Unavailable("storage is unreachable right now and this was not read before; retry shortly"), cause);

    // Storage answers nothing within the request's budget (hung, not refusing): the same 503, in time for the caller.
    private static ServingException Unanswered(TimeSpan waited) =>
        new(ServingError.Unavailable($"storage is unreachable (it did not answer within {(long)waited.TotalMilliseconds} ms) and this was not read before; retry shortly"));

    private void Store<T>(string key, T value, TimeSpan freshFor, TimeSpan? absentFor, string? stamp)
    {
        var now = _time.GetUtcNow();
        if (value is null && absentFor is { } brief)
        {
            _cache.Set(key, new LastKnownGood<T>(value, now + brief), new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = brief, Size = 1 });
            return;
        }

        _cache.Set(key, new LastKnownGood<T>(value, now + freshFor, stamp, now), new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = StaleLimit, Size = 1 });
    }

    /// <summary>One background read of a key in steady use whose value is nearing the end of its freshness (refresh-ahead).</summary>
    private Task RefreshAsync<T>(string key, LastKnownGood<T> known, TimeSpan freshFor, TimeSpan? absentFor, string? stamp, Func<CancellationToken, Task<T>> load) =>
        ReadInBackgroundAsync(
            key,
            freshFor,
            absentFor,
            stamp,
            load,
            // A real error from storage: the next request reads the key itself and sees it. (On an outage the
            // value stands in until its freshness ends, and the breaker keeps the next requests off storage.)
            answerFailed: () => known.FreshUntil(DateTimeOffset.MinValue),
            done: known.EndRefresh);

    /// <summary>One read in the background while the breaker is half-open; requests meanwhile use what is known.</summary>
    private Task ProbeAsync<T>(string key, TimeSpan freshFor, TimeSpan? absentFor, string? stamp, Func<CancellationToken, Task<T>> load) =>
        ReadInBackgroundAsync(
            key,
            freshFor,
            absentFor,
            stamp,
            load,
            // A real answer (a 4xx) means storage is back; the next request reads the key itself.
            answerFailed: _breaker.Succeeded,
            done: _breaker.EndProbe);

    /// <summary>
    /// Reads a key off any request's path (joining a read of it already in progress), kept as every read is; an
    /// outage is counted against the breaker by the read itself, any other failure is left to
    /// <paramref name="answerFailed"/>; <paramref name="done"/> runs last whatever happened.
    /// </summary>
    private async Task ReadInBackgroundAsync<T>(string key, TimeSpan freshFor, TimeSpan? absentFor, string? stamp, Func<CancellationToken, Task<T>> load, Action answerFailed, Action done)
    {
        try
        {
            await JoinOrStartRead(key, freshFor, absentFor, stamp, load).ConfigureAwait(false);
        }
        catch (Exception e) when (StorageFaults.IsTransient(e, CancellationToken.None))
        {
            // Counted by the read (ReadSharedAsync); what is known stands in meanwhile.
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            answerFailed();
        }
        finally
        {
            done();
        }
    }
}
