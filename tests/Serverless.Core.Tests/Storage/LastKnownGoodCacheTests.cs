using Azure;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Time.Testing;
using Serverless.Core.Storage;
using Serverless.Core.Serving;

namespace Serverless.Core.Tests.Storage;

[TestClass]
public sealed class LastKnownGoodCacheTests
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(2);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-30T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly MemoryCache _memory = new(new MemoryCacheOptions());
    private readonly StorageOutageBreaker _breaker = new();
    private int _reads;

    [TestCleanup]
    public void Cleanup() => _memory.Dispose();

    [TestMethod]
    public async Task FreshValue_IsServedWithoutReading_ThenReadAgainOnceStale()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, Read("v1"), CancellationToken.None));
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, Read("v2"), CancellationToken.None));
        Assert.AreEqual(1, _reads);

        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.AreEqual("v2", await cache.GetOrLoadAsync("k", Fresh, Read("v2"), CancellationToken.None));
        Assert.AreEqual(2, _reads);
    }

    [TestMethod]
    public async Task CallersOfAKeyBeingRead_JoinThatRead_AndOneGivingUpDoesNotFailTheOthers()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        var answer = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0;
        Func<CancellationToken, Task<string>> slowRead = _ =>
        {
            Interlocked.Increment(ref started);
            return answer.Task;
        };

        using var impatient = new CancellationTokenSource();
        var first = cache.GetOrLoadAsync("k", Fresh, slowRead, impatient.Token).AsTask();
        var second = cache.GetOrLoadAsync("k", Fresh, slowRead, CancellationToken.None).AsTask();
        var third = cache.GetOrLoadAsync("k", Fresh, slowRead, CancellationToken.None).AsTask();
        impatient.Cancel();
        await Assert.ThrowsExactlyAsync<TaskCanceledException>(() => first);

        answer.SetResult("v1");
        Assert.AreEqual("v1", await second);
        Assert.AreEqual("v1", await third);
        Assert.AreEqual(1, started, "one storage read for the three callers");
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, Fail<string>(500), CancellationToken.None), "and the value it read is kept");

        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.AreEqual("v2", await cache.GetOrLoadAsync("k", Fresh, Read("v2"), CancellationToken.None), "a later read is a new read");
    }

    [TestMethod]
    public async Task RefreshAhead_ServesTheFreshValue_WhileOneBackgroundReadRefreshesIt()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, Read("v1"), CancellationToken.None));
        _time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, Fail<string>(500), CancellationToken.None), "early in its freshness: no read");
        Assert.AreEqual(1, _reads);

        _time.Advance(TimeSpan.FromSeconds(1));
        var refresh = new TaskCompletionSource<string>();
        var started = 0;
        Func<CancellationToken, Task<string>> slowRead = _ =>
        {
            Interlocked.Increment(ref started);
            return refresh.Task;
        };
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, slowRead, CancellationToken.None), "the request does not wait for storage");
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, slowRead, CancellationToken.None));
        Assert.AreEqual(1, started, "one background read per key at a time");

        refresh.SetResult("v2");
        await WaitUntilAsync(() => cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, Fail<string>(500), CancellationToken.None).AsTask().Result == "v2");
        _time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.AreEqual("v2", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, Fail<string>(500), CancellationToken.None), "the refreshed value has its own freshness");
    }

    [TestMethod]
    public async Task RefreshAhead_NeverServesAValuePastItsFreshness()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, Read("v1"), CancellationToken.None);
        _time.Advance(Fresh + TimeSpan.FromMilliseconds(1));
        Assert.AreEqual("v2", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, Read("v2"), CancellationToken.None), "a key idle past its freshness is read on the request's path");

        cache.Expire<string>("k");
        Assert.AreEqual("v3", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, Read("v3"), CancellationToken.None), "an expired key is read at once");
        Assert.AreEqual(3, _reads);
    }

    [TestMethod]
    public async Task AStampedValue_StaysValidPastItsFreshness_WhileTheStampHolds()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        var stamp = "e1";
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, () => stamp, TimeSpan.FromSeconds(60), Read("v1"), CancellationToken.None));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, () => stamp, TimeSpan.FromSeconds(60), Fail<string>(500), CancellationToken.None), "same stamp: no read");
        Assert.AreEqual(1, _reads);

        stamp = "e2";
        Assert.AreEqual("v2", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, () => stamp, TimeSpan.FromSeconds(60), Read("v2"), CancellationToken.None), "a new stamp: read");
        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.AreEqual("v3", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, () => stamp, TimeSpan.FromSeconds(60), Read("v3"), CancellationToken.None), "past the stamp's bound: read");

        cache.Expire<string>("k");
        Assert.AreEqual("v4", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: true, () => stamp, TimeSpan.FromSeconds(60), Read("v4"), CancellationToken.None), "expired on purpose: read");
        Assert.AreEqual(4, _reads);
    }

    [TestMethod]
    public async Task WithoutAStamp_TheFreshnessWindowAloneApplies()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        string? stamp = "e1";
        await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: false, () => stamp, TimeSpan.FromSeconds(60), Read("v1"), CancellationToken.None);
        stamp = null;
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.AreEqual("v2", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: false, () => stamp, TimeSpan.FromSeconds(60), Read("v2"), CancellationToken.None), "no current stamp (change feed not healthy): read after freshness");

        await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: false, () => "e1", TimeSpan.FromSeconds(60), Read("unused"), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.AreEqual("v3", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: false, () => "e1", TimeSpan.FromSeconds(60), Read("v3"), CancellationToken.None), "a value read without a stamp is never extended");
    }

    [TestMethod]
    public async Task AChangeDuringTheRead_IsNotMissed()
    {
        // The stamp is taken before the read: a change landing while the read runs leaves the value under the old
        // stamp, and the new stamp the poll then shows makes the next request read again.
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        var stamp = "e1";
        await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: false, () => stamp, TimeSpan.FromSeconds(60), _ =>
        {
            _reads++;
            stamp = "e2";
            return Task.FromResult("before the change");
        }, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.AreEqual("after the change", await cache.GetOrLoadAsync("k", Fresh, null, refreshAhead: false, () => stamp, TimeSpan.FromSeconds(60), Read("after the change"), CancellationToken.None));
    }

    [TestMethod]
    public async Task StorageAway_ServesTheLastKnownValue_AndStopsAskingForTheRetryInterval()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        await cache.GetOrLoadAsync("k", Fresh, Read("v1"), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(3));

        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, Fail<string>(0), CancellationToken.None), "a transport failure: the last value stands in");
        Assert.AreEqual(2, _reads);
        Assert.IsTrue(_breaker.IsOpen(_time.GetUtcNow()));

        // While open, no read goes to storage at all, for any key.
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, Fail<string>(503), CancellationToken.None));
        await Assert.ThrowsExactlyAsync<ServingException>(async () => await cache.GetOrLoadAsync("never-read", Fresh, Fail<string>(503), CancellationToken.None));
        Assert.AreEqual(2, _reads, "the open breaker kept every read off storage");
    }

    [TestMethod]
    public async Task NeverRead_AndStorageAway_Is503()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        var e = await Assert.ThrowsExactlyAsync<ServingException>(async () => await cache.GetOrLoadAsync("k", Fresh, Fail<string>(0), CancellationToken.None));
        Assert.AreEqual(ServingErrorCode.Unavailable, e.Code);
        Assert.IsNotNull(e.Error.RetryAfter, "an outage asks the caller to come back");
        StringAssert.Contains(e.Message, "storage is unreachable");
    }

    [TestMethod]
    public async Task HalfOpen_ProbesInTheBackground_AndItsSuccessClosesTheBreaker()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        await cache.GetOrLoadAsync("k", Fresh, Read("v1"), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(3));
        await cache.GetOrLoadAsync("k", Fresh, Fail<string>(0), CancellationToken.None);
        _time.Advance(StorageOutageBreaker.RetryInterval);
        Assert.IsTrue(_breaker.IsHalfOpen(_time.GetUtcNow()));

        var probe = new TaskCompletionSource<string>();
        Assert.AreEqual("v1", await cache.GetOrLoadAsync("k", Fresh, _ => probe.Task, CancellationToken.None), "the request does not wait for the probe");
        probe.SetResult("v2");
        await WaitUntilAsync(() => !_breaker.IsHalfOpen(_time.GetUtcNow()));
        Assert.IsFalse(_breaker.IsOpen(_time.GetUtcNow()));
        Assert.AreEqual("v2", await cache.GetOrLoadAsync("k", Fresh, Fail<string>(500), CancellationToken.None), "the probe's value is fresh");
    }

    [TestMethod]
    public async Task RealAnswers_AreNotOutages()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        await cache.GetOrLoadAsync("k", Fresh, Read("v1"), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(3));

        await Assert.ThrowsExactlyAsync<RequestFailedException>(async () => await cache.GetOrLoadAsync("k", Fresh, Fail<string>(403), CancellationToken.None));
        Assert.IsFalse(_breaker.IsOpen(_time.GetUtcNow()));
    }

    [TestMethod]
    public async Task AbsentAnswers_WithABriefWindow_AreNotKeptAsLastKnown()
    {
        var cache = new LastKnownGoodCache(_memory, _breaker, _time);
        var brief = TimeSpan.FromMilliseconds(50);
        Assert.IsNull(await cache.GetOrLoadAsync<string?>("ghost", Fresh, brief, _ => Task.FromResult<string?>(null), CancellationToken.None));
        Assert.AreEqual(1, _memory.Count);

        // The memory cache expires entries by the real clock: let the brief window pass for both clocks.
        await Task.Delay(200);
        _time.Advance(TimeSpan.FromSeconds(1));
        // Gone with its brief window: storage away now is a 503, not a remembered "no such tenant".
        await Assert.ThrowsExactlyAsync<ServingException>(async () => await cache.GetOrLoadAsync<string?>("ghost", Fresh, brief, Fail<string?>(0), CancellationToken.None));
    }

    [TestMethod]
    [DataRow(0, true)]
    [DataRow(408, true)]
    [DataRow(429, true)]
    [DataRow(500, true)]
    [DataRow(503, true)]
    [DataRow(404, false)]
    [DataRow(412, false)]
    [DataRow(403, false)]
    public void StorageFaults_TellOutagesFromAnswers(int status, bool transient)
    {
        Assert.AreEqual(transient, StorageFaults.IsTransient(new RequestFailedException(status, "x"), CancellationToken.None));
        Assert.AreEqual(transient, StorageFaults.IsTransient(new AggregateException(new RequestFailedException(status, "x"), new RequestFailedException(0, "y")), CancellationToken.None));
    }

    [TestMethod]
    public void StorageFaults_CallerCancellation_IsNotAnOutage()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.IsFalse(StorageFaults.IsTransient(new OperationCanceledException(), cancelled.Token));
        Assert.IsTrue(StorageFaults.IsTransient(new TaskCanceledException(), CancellationToken.None), "a timeout inside the SDK");
        Assert.IsTrue(StorageFaults.IsTransient(new HttpRequestException("refused"), CancellationToken.None));
        Assert.IsFalse(StorageFaults.IsTransient(new InvalidOperationException(), CancellationToken.None));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.IsTrue(condition());
    }

    private Func<CancellationToken, Task<string>> Read(string value) => _ =>
    {
        _reads++;
        return Task.FromResult(value);
    };

    private Func<CancellationToken, Task<T>> Fail<T>(int status) => _ =>
    {
        _reads++;
        return Task.FromException<T>(new RequestFailedException(status, $"storage says {status}"));
    };
}
