using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Serverless.Scoring;
using Serverless.Core.Sharding;
using Serverless.ModelBuilder;

namespace Serverless.Scoring.Tests;

[TestClass]
public sealed class SessionCacheTests
{
    private static readonly byte[] LinearBytes = DemoModels.Linear();

    private ServiceProvider _services = null!;

    [TestInitialize]
    public void Initialize() => _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [TestCleanup]
    public void Cleanup() => _services.Dispose();

    private SessionCache NewCache(long cacheBytes) =>
        new(Options.Create(new ShardOptions { Id = "shard-00", CacheBytes = cacheBytes }), _services.GetRequiredService<IMeterFactory>());

    private static ModelSession NewSession(string model, long sizeBytes) =>
        new(model, "1", TestAssemblySetup.Runtime.CreateSession(LinearBytes), sizeBytes);

    private static Func<CancellationToken, Task<ModelSession>> Loader(string model, long sizeBytes) =>
        _ => Task.FromResult(NewSession(model, sizeBytes));

    /// <summary>
    /// Eviction callbacks of MemoryCache run on the thread pool: waits (bounded) for a condition they make
    /// true. The assertions never depend on how long this takes, only on the state reached.
    /// </summary>
    private static void WaitFor(Func<bool> condition, string what)
    {
        Assert.IsTrue(SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(10)), $"timed out waiting for {what}");
    }

    [TestMethod]
    public async Task ConcurrentMisses_LoadOnce()
    {
        using var cache = NewCache(1L << 30);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        async Task<ModelSession> SlowLoad(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref calls);
            await gate.Task.ConfigureAwait(false);
            return NewSession("a", 1000);
        }

        var waiters = Enumerable.Range(0, 50).Select(_ => cache.AcquireAsync("a", SlowLoad, CancellationToken.None).AsTask()).ToArray();
        Assert.IsFalse(waiters.Any(w => w.IsCompleted), "no waiter may finish before the load does");
        gate.SetResult();
        var leases = await Task.WhenAll(waiters);
        try
        {
            Assert.AreEqual(1, calls, "the loader ran more than once");
            Assert.AreEqual(1, cache.LoadCount);
            var session = leases[0].Session;
            Assert.IsTrue(leases.All(l => ReferenceEquals(l.Session, session)), "waiters got different sessions");
            Assert.IsTrue(leases.All(l => !l.CacheHit), "a waiter for a load is a miss");
            Assert.AreEqual(1, cache.Count);
            Assert.AreEqual(1000, cache.ResidentBytes);
        }
        finally
        {
            foreach (var lease in leases)
            {
                lease.Dispose();
            }
        }

        using var hit = await cache.AcquireAsync("a", SlowLoad, CancellationToken.None);
        Assert.IsTrue(hit.CacheHit);
        Assert.AreSame(leases[0].Session, hit.Session);
        Assert.AreEqual(1, calls);
        Assert.IsFalse(hit.Session.IsDisposed);
    }

    [TestMethod]
    public async Task DifferentKeys_LoadSeparately()
    {
        using var cache = NewCache(1L << 30);
        using var a = await cache.AcquireAsync("a", Loader("a", 100), CancellationToken.None);
        using var b = await cache.AcquireAsync("b", Loader("b", 200), CancellationToken.None);
        Assert.AreNotSame(a.Session, b.Session);
        Assert.AreEqual("a", a.Session.Model);
        Assert.AreEqual("b", b.Session.Model);
        Assert.AreEqual(2, cache.LoadCount);
        Assert.AreEqual(2, cache.Count);
        Assert.AreEqual(300, cache.ResidentBytes);
    }

    [TestMethod]
    public async Task AFailedLoad_IsRetriedByTheNextCaller()
    {
        using var cache = NewCache(1L << 30);
        var calls = 0;
        Task<ModelSession> FlakyLoad(CancellationToken cancellationToken) =>
            Interlocked.Increment(ref calls) == 1
                ? Task.FromException<ModelSession>(new InvalidOperationException("blob unavailable"))
                : Task.FromResult(NewSession("a", 100));

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(async () => await cache.AcquireAsync("a", FlakyLoad, CancellationToken.None));
        Assert.AreEqual("blob unavailable", error.Message);
        Assert.AreEqual(0, cache.LoadCount);
        Assert.AreEqual(0, cache.Count);

        using var lease = await cache.AcquireAsync("a", FlakyLoad, CancellationToken.None);
        Assert.AreEqual(2, calls);
        Assert.AreEqual(1, cache.LoadCount);
        Assert.IsFalse(lease.CacheHit);
        Assert.IsFalse(lease.Session.IsDisposed);
    }

    [TestMethod]
    public async Task AWaiterLeaving_DoesNotCancelTheSharedLoad()
    {
        using var cache = NewCache(1L << 30);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sawCancellable = false;
        async Task<ModelSession> SlowLoad(CancellationToken cancellationToken)
        {
            sawCancellable |= cancellationToken.CanBeCanceled;
            await gate.Task.ConfigureAwait(false);
            return NewSession("a", 100);
        }

        using var leaving = new CancellationTokenSource();
        var impatient = cache.AcquireAsync("a", SlowLoad, leaving.Token).AsTask();
        var patient = cache.AcquireAsync("a", SlowLoad, CancellationToken.None).AsTask();
        await leaving.CancelAsync();
        await Assert.ThrowsAsync<OperationCanceledException>(() => impatient);
        Assert.IsFalse(patient.IsCompleted);

        gate.SetResult();
        using var lease = await patient;
        Assert.IsFalse(sawCancellable, "the shared load must not get a request's token");
        Assert.AreEqual(1, cache.LoadCount);
        Assert.IsFalse(lease.Session.IsDisposed);
    }

    [TestMethod]
    public async Task OverTheBudget_TheLeastRecentlyUsedIsEvicted()
    {
        using var cache = NewCache(3_500);
        await UseAsync(cache, "a");
        await UseAsync(cache, "b");
        await UseAsync(cache, "c");
        await UseAsync(cache, "a");

        // d does not fit: the cache compacts in the background, least recently used first (b, not a).
        await UseAsync(cache, "d");
        WaitFor(() => !cache.Contains("b"), "b's eviction");
        Assert.IsTrue(cache.Contains("a"), "a was used after b");
        Assert.IsTrue(cache.Contains("c"));
    }

    [TestMethod]
    public async Task AWarmedUpModelNoRequestUsed_IsEvictedBeforeUsedOnes_HoweverRecentlyLoaded()
    {
        using var cache = NewCache(3_500);
        await UseAsync(cache, "a");
        await UseAsync(cache, "b");
        await UseAsync(cache, "w", SessionUse.Warmup);
        Assert.IsTrue(cache.Contains("w"));

        await UseAsync(cache, "d");
        WaitFor(() => !cache.Contains("w"), "the never-used warm-up's eviction");
        Assert.IsTrue(cache.Contains("a"), "a used model stays although it is the least recently used");
        Assert.IsTrue(cache.Contains("b"));
    }

    [TestMethod]
    public async Task AWarmedUpModel_OnceARequestUsesIt_RanksByThatUse()
    {
        using var cache = NewCache(3_500);
        await UseAsync(cache, "a");
        await UseAsync(cache, "b");
        await UseAsync(cache, "w", SessionUse.Warmup);
        var session = await UseAsync(cache, "w");
        Assert.IsFalse(session.NeverUsed);
        Assert.AreEqual(3, cache.Count, "the first use keeps the warmed model resident");
        WaitFor(() => cache.ResidentBytes == 3_000, "the replaced entry's release");

        await UseAsync(cache, "d");
        WaitFor(() => !cache.Contains("a"), "the least recently used model's eviction");
        Assert.IsTrue(cache.Contains("w"), "w was used after a and b");
        Assert.IsFalse(session.IsDisposed);

        // One reference per entry: dropping w from the cache disposes it (nothing leaked by the promotion).
        cache.Remove("w");
        WaitFor(() => session.IsDisposed, "w's disposal once its only entry is gone");
    }

    [TestMethod]
    public async Task AWarmedUpModelsFirstUse_InAFullCache_EvictsNothing()
    {
        using var cache = NewCache(3_000);
        await UseAsync(cache, "a");
        await UseAsync(cache, "w1", SessionUse.Warmup);
        await UseAsync(cache, "w2", SessionUse.Warmup);
        await UseAsync(cache, "w2");
        WaitFor(() => cache.ResidentBytes == 3_000, "the replaced entry's release");
        await Task.Delay(100);
        Assert.IsTrue(cache.Contains("w1"), "promoting w2 in place made room it did not need: the other warm-up went");
        Assert.IsTrue(cache.Contains("a") && cache.Contains("w2"));
    }

    /// <summary>Leases a session of 1,000 bytes (loading it if needed) and lets it go; apart by a few ms so access times differ.</summary>
    private static async Task<ModelSession> UseAsync(SessionCache cache, string model, SessionUse use = SessionUse.Request)
    {
        await Task.Delay(15);
        using var lease = await cache.AcquireAsync(model, Loader(model, 1_000), use, CancellationToken.None);
        return lease.Session;
    }

    [TestMethod]
    public async Task AnEvictedSession_IsNotDisposedWhileLeased_AndIsDisposedAfter()
    {
        using var cache = NewCache(10_000);
        var leaseA = await cache.AcquireAsync("a", Loader("a", 1_000), CancellationToken.None);
        var sessionA = leaseA.Session;
        using (var b = await cache.AcquireAsync("b", Loader("b", 1_000), CancellationToken.None))
        using (var c = await cache.AcquireAsync("c", Loader("c", 1_000), CancellationToken.None))
        {
            Assert.IsFalse(b.Session.IsDisposed);
            Assert.IsFalse(c.Session.IsDisposed);
        }

        Assert.AreEqual(3_000, cache.ResidentBytes);

        // Evict A deterministically (compaction under SizeLimit is asynchronous) and wait for the eviction
        // callback to have run: it subtracts A's bytes, then drops the cache's reference.
        cache.Remove("a");
        WaitFor(() => cache.ResidentBytes == 2_000, "A's eviction callback");
        Thread.Sleep(50); // let the callback finish its Release after the byte count it has already changed
        Assert.IsFalse(sessionA.IsDisposed, "A was disposed while a request still held it");

        // The leased session still runs.
        using (var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions())
        using (var x = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(new float[] { 1, 2, 3, 4 }, [1, 4]))
        using (var y = sessionA.Session.Run(runOptions, ["x"], [x], ["y"]))
        {
            Assert.AreEqual(2, y[0].GetTensorDataAsSpan<float>().Length);
        }

        leaseA.Dispose();
        Assert.IsTrue(sessionA.IsDisposed, "A must be disposed once its last lease is gone");

        // B and C were not touched; the next request for A loads it again.
        using var again = await cache.AcquireAsync("a", Loader("a", 1_000), CancellationToken.None);
        Assert.IsFalse(again.CacheHit);
        Assert.AreNotSame(sessionA, again.Session);
        Assert.AreEqual(4, cache.LoadCount);
        using var hitB = await cache.AcquireAsync("b", Loader("b", 1_000), CancellationToken.None);
        Assert.IsTrue(hitB.CacheHit);
        Assert.IsFalse(hitB.Session.IsDisposed);
    }

    [TestMethod]
    public async Task AnUnleasedSession_IsDisposedWhenEvicted()
    {
        using var cache = NewCache(10_000);
        ModelSession session;
        using (var lease = await cache.AcquireAsync("a", Loader("a", 1_000), CancellationToken.None))
        {
            session = lease.Session;
        }

        Assert.IsFalse(session.IsDisposed, "the cache still holds it");
        cache.Remove("a");
        WaitFor(() => session.IsDisposed, "the evicted, unleased session to be disposed");
        Assert.AreEqual(0, cache.ResidentBytes);
        Assert.AreEqual(0, cache.Count);
    }

    [TestMethod]
    public async Task ASessionLargerThanTheBudget_StillServesItsRequest_AndIsDisposedAfter()
    {
        using var cache = NewCache(1_000);
        var lease = await cache.AcquireAsync("huge", Loader("huge", 5_000), CancellationToken.None);
        var session = lease.Session;
        Assert.IsFalse(lease.CacheHit);
        Assert.AreEqual(0, cache.Count, "a session over the whole budget is not kept");

        // MemoryCache refuses it and reports an eviction (reason Capacity) on the thread pool.
        WaitFor(() => cache.ResidentBytes == 0, "the refused session's eviction callback");
        Thread.Sleep(50);
        Assert.IsFalse(session.IsDisposed, "disposed under its waiting request");

        lease.Dispose();
        Assert.IsTrue(session.IsDisposed, "it must be disposed after its request");
    }

    [TestMethod]
    public async Task ASessionLargerThanTheBudget_IsLoadedOnceForConcurrentWaiters()
    {
        // Repeated because the outcome depends on whether the eviction callback (thread pool) drops the
        // cache's reference before the waiters take theirs.
        for (var round = 0; round < 20; round++)
        {
            using var cache = NewCache(1_000);
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            async Task<ModelSession> SlowLoad(CancellationToken cancellationToken)
            {
                await gate.Task.ConfigureAwait(false);
                return NewSession("huge", 5_000);
            }

            var waiters = Enumerable.Range(0, 10).Select(_ => cache.AcquireAsync("huge", SlowLoad, CancellationToken.None).AsTask()).ToArray();
            gate.SetResult();
            var leases = await Task.WhenAll(waiters);
            var sessions = leases.Select(l => l.Session).Distinct().ToArray();
            Assert.IsTrue(leases.All(l => !l.Session.IsDisposed), $"round {round}: a waiter got a disposed session");
            foreach (var lease in leases)
            {
                lease.Dispose();
            }

            WaitFor(() => sessions.All(s => s.IsDisposed), $"round {round}: the sessions to be disposed after their requests");
            Assert.AreEqual(1, cache.LoadCount, $"round {round}: {cache.LoadCount} loads for one model");
        }
    }

    [TestMethod]
    public async Task HitAndMiss_AreReportedOnTheLease()
    {
        using var cache = NewCache(1L << 30);
        using (var first = await cache.AcquireAsync("a", Loader("a", 100), CancellationToken.None))
        {
            Assert.IsFalse(first.CacheHit);
        }

        using var second = await cache.AcquireAsync("a", Loader("a", 100), CancellationToken.None);
        Assert.IsTrue(second.CacheHit);
        Assert.AreEqual(1, cache.LoadCount);
    }

    [TestMethod]
    public async Task Leases_KeepTheSessionAlive_UntilTheLastOneIsDisposed()
    {
        using var cache = NewCache(10_000);
        var first = await cache.AcquireAsync("a", Loader("a", 100), CancellationToken.None);
        var second = await cache.AcquireAsync("a", Loader("a", 100), CancellationToken.None);
        var session = first.Session;
        cache.Remove("a");
        WaitFor(() => cache.ResidentBytes == 0, "the eviction callback");
        Thread.Sleep(50);

        first.Dispose();
        Assert.IsFalse(session.IsDisposed, "one lease is still held");
        second.Dispose();
        Assert.IsTrue(session.IsDisposed);
        Assert.IsFalse(session.TryAcquire(), "a disposed session cannot be leased again");
    }
}
