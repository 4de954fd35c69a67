using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Serverless.Core.Sharding;
using Serverless.ModelBuilder;

namespace Serverless.Scoring.Tests;

/// <summary>
/// The shard's load slots (<see cref="LoadScheduler"/> under <see cref="SessionCache"/>): loads of different models
/// run in parallel up to the bound, never beyond it, and a load a request waits on starts before queued warm-ups.
/// Every assertion is on counts and order observed with gates, never on time.
/// </summary>
[TestClass]
public sealed class LoadSchedulingTests
{
    private static readonly byte[] LinearBytes = DemoModels.Linear();

    private ServiceProvider _services = null!;

    [TestInitialize]
    public void Initialize() => _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [TestCleanup]
    public void Cleanup() => _services.Dispose();

    private SessionCache NewCache(int maxConcurrentLoads) =>
        new(Options.Create(new ShardOptions { Id = "shard-00", CacheBytes = 1L << 30, MaxConcurrentLoads = maxConcurrentLoads }), _services.GetRequiredService<IMeterFactory>());

    private static ModelSession NewSession(string model) =>
        new(model, "1", TestAssemblySetup.Runtime.CreateSession(LinearBytes), 1_000);

    private static void WaitFor(Func<bool> condition, string what) =>
        Assert.IsTrue(SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(10)), $"timed out waiting for {what}");

    /// <summary>Loads that wait on one gate, counting how many are inside a load at once and the order they started in.</summary>
    private sealed class GatedLoads
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _inside;
        private int _most;

        public ConcurrentQueue<string> Started { get; } = new();

        public int Inside => Volatile.Read(ref _inside);

        public int Most => Volatile.Read(ref _most);

        public void Open() => _gate.TrySetResult();

        public Func<CancellationToken, Task<ModelSession>> For(string model) => async _ =>
        {
            Started.Enqueue(model);
            var now = Interlocked.Increment(ref _inside);
            int most;
            while ((most = Volatile.Read(ref _most)) < now && Interlocked.CompareExchange(ref _most, now, most) != most)
            {
            }

            await _gate.Task.ConfigureAwait(false);
            Interlocked.Decrement(ref _inside);
            return NewSession(model);
        };
    }

    [TestMethod]
    public async Task LoadsOfDifferentModels_RunInParallel_UpToTheBound()
    {
        using var cache = NewCache(maxConcurrentLoads: 4);
        var loads = new GatedLoads();
        var requests = Enumerable.Range(0, 10).Select(i => cache.AcquireAsync($"m{i}", loads.For($"m{i}"), CancellationToken.None).AsTask()).ToArray();

        WaitFor(() => loads.Inside == 4, "four loads inside at once");
        Assert.AreEqual(4, cache.Loads.Running, "four slots held");
        Assert.AreEqual(6, cache.Loads.Queued, "the other six wait for a slot");
        Assert.AreEqual(4, loads.Started.Count, "no load beyond the bound started");

        loads.Open();
        foreach (var lease in await Task.WhenAll(requests))
        {
            lease.Dispose();
        }

        Assert.AreEqual(10, loads.Started.Count);
        Assert.AreEqual(4, loads.Most, "the bound held while the queue drained");
        Assert.AreEqual(4, cache.Loads.MostRunning);
        Assert.AreEqual(0, cache.Loads.Running);
        Assert.AreEqual(0, cache.Loads.Queued);
    }

    [TestMethod]
    public async Task ARequestsLoad_StartsBeforeQueuedWarmups()
    {
        using var cache = NewCache(maxConcurrentLoads: 1);
        var blocker = new GatedLoads();
        var busy = cache.AcquireAsync("busy", blocker.For("busy"), CancellationToken.None).AsTask();
        WaitFor(() => blocker.Inside == 1, "the first load holding the one slot");

        var loads = new GatedLoads();
        loads.Open();
        var warmups = new[] { "w1", "w2", "w3" }.Select(m => cache.AcquireAsync(m, loads.For(m), SessionUse.Warmup, CancellationToken.None).AsTask()).ToArray();
        var request = cache.AcquireAsync("r", loads.For("r"), SessionUse.Request, CancellationToken.None).AsTask();
        Assert.AreEqual(4, cache.Loads.Queued);

        blocker.Open();
        (await busy).Dispose();
        (await request).Dispose();
        foreach (var lease in await Task.WhenAll(warmups))
        {
            lease.Dispose();
        }

        CollectionAssert.AreEqual(new[] { "r", "w1", "w2", "w3" }, loads.Started.ToArray(), "the request's load went first, then the warm-ups in their order");
    }

    [TestMethod]
    public async Task AQueuedWarmupARequestJoins_IsPromotedAheadOfTheOtherWarmups()
    {
        using var cache = NewCache(maxConcurrentLoads: 1);
        var blocker = new GatedLoads();
        var busy = cache.AcquireAsync("busy", blocker.For("busy"), CancellationToken.None).AsTask();
        WaitFor(() => blocker.Inside == 1, "the first load holding the one slot");

        var loads = new GatedLoads();
        loads.Open();
        var warmups = new[] { "w1", "w2", "w3" }.Select(m => cache.AcquireAsync(m, loads.For(m), SessionUse.Warmup, CancellationToken.None).AsTask()).ToArray();
        // A request for w3 joins w3's queued warm-up load (single flight): that load is now one a request waits on.
        var request = cache.AcquireAsync("w3", loads.For("w3"), SessionUse.Request, CancellationToken.None).AsTask();
        Assert.AreEqual(3, cache.Loads.Queued, "the request joined the warm-up's load rather than queueing its own");

        blocker.Open();
        (await busy).Dispose();
        var joined = await request;
        Assert.IsFalse(joined.CacheHit);
        joined.Dispose();
        foreach (var lease in await Task.WhenAll(warmups))
        {
            lease.Dispose();
        }

        CollectionAssert.AreEqual(new[] { "w3", "w1", "w2" }, loads.Started.ToArray(), "the joined warm-up was promoted ahead of the others");
        Assert.AreEqual(4, cache.LoadCount, "one load per model");
    }

    [TestMethod]
    public void TheScheduler_HandsTheSlotOver_RequestsFirst_AndCountsQueuedOnesOut()
    {
        var scheduler = new LoadScheduler(Options.Create(new ShardOptions { Id = "shard-00", MaxConcurrentLoads = 2 }), _services.GetRequiredService<IMeterFactory>());
        using var a = scheduler.Enqueue(SessionUse.Warmup);
        var b = scheduler.Enqueue(SessionUse.Request);
        var warm = scheduler.Enqueue(SessionUse.Warmup);
        var leaving = scheduler.Enqueue(SessionUse.Request);
        var request = scheduler.Enqueue(SessionUse.Request);
        Assert.IsTrue(a.Started.IsCompleted && b.Started.IsCompleted, "two free slots, granted at once");
        Assert.IsFalse(warm.Started.IsCompleted || leaving.Started.IsCompleted || request.Started.IsCompleted);

        // A queued ticket given up leaves the queue without taking a slot.
        leaving.Dispose();
        Assert.AreEqual(2, scheduler.Queued);

        b.Dispose();
        Assert.IsTrue(SpinWait.SpinUntil(() => request.Started.IsCompleted, TimeSpan.FromSeconds(10)), "the request got the freed slot");
        Assert.IsFalse(warm.Started.IsCompleted, "the warm-up queued before it still waits");
        request.Dispose();
        Assert.IsTrue(SpinWait.SpinUntil(() => warm.Started.IsCompleted, TimeSpan.FromSeconds(10)));
        warm.Dispose();
        warm.Dispose();
        Assert.AreEqual(1, scheduler.Running, "a second dispose gives nothing back twice");
    }
}
