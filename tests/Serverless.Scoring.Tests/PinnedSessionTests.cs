using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Serverless.Core.Sharding;
using Serverless.ModelBuilder;

namespace Serverless.Scoring.Tests;

/// <summary>
/// Pinned sessions (<see cref="SessionCache.SetPins"/>, what <c>serverless scale MODEL --min-resident</c> asks of a
/// model's replicas): never evicted while pinned, within the pinned budget; past it a model is an ordinary one.
/// </summary>
[TestClass]
public sealed class PinnedSessionTests
{
    private const long SessionBytes = 1_000;
    private static readonly byte[] LinearBytes = DemoModels.Linear();

    private ServiceProvider _services = null!;

    [TestInitialize]
    public void Initialize() => _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [TestCleanup]
    public void Cleanup() => _services.Dispose();

    private SessionCache NewCache(long cacheBytes, long pinnedBytes) =>
        new(Options.Create(new ShardOptions { Id = "shard-00", CacheBytes = cacheBytes, PinnedBytes = pinnedBytes }), _services.GetRequiredService<IMeterFactory>());

    private static Func<CancellationToken, Task<ModelSession>> Loader(string model) =>
        _ => Task.FromResult(new ModelSession(model, "1", TestAssemblySetup.Runtime.CreateSession(LinearBytes), SessionBytes));

    private static async Task UseAsync(SessionCache cache, string model, SessionUse use = SessionUse.Request)
    {
        using var lease = await cache.AcquireAsync(model, Loader(model), use, CancellationToken.None);
    }

    /// <summary>Loads 40 other models through a cache that holds 10: everything unpinned is evicted many times over.</summary>
    private static async Task FloodAsync(SessionCache cache)
    {
        for (var i = 0; i < 40; i++)
        {
            await UseAsync(cache, $"flood-{i}");
        }

        // Eviction callbacks run on the thread pool: wait until the budget holds again.
        Assert.IsTrue(SpinWait.SpinUntil(() => cache.ResidentBytes <= 10 * SessionBytes, TimeSpan.FromSeconds(10)), "the flood was compacted");
    }

    [TestMethod]
    public async Task APinnedModel_SurvivesACacheFlood_WhileAnUnpinnedOneIsEvicted()
    {
        using var cache = NewCache(10 * SessionBytes, 3 * SessionBytes);
        Assert.AreEqual(0, cache.SetPins(["pinned"]).Count);
        await UseAsync(cache, "pinned");
        await UseAsync(cache, "ordinary");
        Assert.IsTrue(cache.IsPinned("pinned"));

        await FloodAsync(cache);

        Assert.IsTrue(cache.Contains("pinned"), "the pinned model was evicted");
        Assert.IsFalse(cache.Contains("ordinary"), "the unpinned model survived a flood of 40 models through a cache of 10");
        Assert.AreEqual(SessionBytes, cache.PinnedBytes);
    }

    [TestMethod]
    public async Task AResidentModel_PinnedLater_SurvivesTheFlood_AndUnpinned_IsEvictedAgain()
    {
        using var cache = NewCache(10 * SessionBytes, 3 * SessionBytes);
        await UseAsync(cache, "m", SessionUse.Warmup);
        Assert.AreEqual(0, cache.SetPins(["m"]).Count);
        Assert.IsTrue(cache.IsPinned("m"), "a resident model is pinned in place");

        await FloodAsync(cache);
        Assert.IsTrue(cache.Contains("m"));

        Assert.AreEqual(0, cache.SetPins([]).Count);
        Assert.IsFalse(cache.IsPinned("m"));
        Assert.AreEqual(0, cache.PinnedBytes);
        await FloodAsync(cache);
        Assert.IsFalse(cache.Contains("m"), "an unpinned model is evicted like any other");
    }

    [TestMethod]
    public async Task ThePinnedBudget_Holds_AndAModelPastIt_IsServedAsAnOrdinaryOne()
    {
        using var cache = NewCache(10 * SessionBytes, 2 * SessionBytes);
        cache.SetPins(["p1", "p2", "p3"]);
        await UseAsync(cache, "p1");
        await UseAsync(cache, "p2");
        await UseAsync(cache, "p3");

        Assert.IsTrue(cache.IsPinned("p1") && cache.IsPinned("p2"));
        Assert.IsFalse(cache.IsPinned("p3"), "p3 does not fit the pinned budget");
        Assert.AreEqual(2 * SessionBytes, cache.PinnedBytes);
        Assert.AreEqual(1, cache.SetPins(["p1", "p2", "p3"]).Count, "the refresh reports the pin past the budget");

        await FloodAsync(cache);
        Assert.IsTrue(cache.Contains("p1") && cache.Contains("p2"));
        Assert.IsFalse(cache.Contains("p3"), "the model past the budget is evicted as an ordinary one");
        Assert.IsTrue(cache.PinnedBytes <= cache.PinnedBudget);
    }

    [TestMethod]
    public async Task AnUnloadedPinnedModel_GivesItsBudgetBack()
    {
        using var cache = NewCache(10 * SessionBytes, 1 * SessionBytes);
        cache.SetPins(["a", "b"]);
        await UseAsync(cache, "a");
        Assert.IsTrue(cache.IsPinned("a"));
        cache.Remove("a");
        Assert.IsTrue(SpinWait.SpinUntil(() => cache.PinnedBytes == 0, TimeSpan.FromSeconds(10)), "the unloaded pin's bytes were not given back");
        await UseAsync(cache, "b");
        Assert.IsTrue(cache.IsPinned("b"), "the budget a removed pin held is free for another");
    }
}
