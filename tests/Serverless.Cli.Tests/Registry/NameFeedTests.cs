using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.Core.Storage;

namespace Serverless.Cli.Tests.Registry;

/// <summary>
/// The name feed (issue 17): a registry change writes its model's name to Table <c>registrynames</c> before the new
/// epoch, and a held set of the tenant's names is brought up to date from it instead of being read in full again (at
/// 100,000 models a full read is a hundred pages, each a scan of the whole table in Azurite). Against an Azurite of its own.
/// </summary>
[TestClass]
public sealed class NameFeedTests
{
    private static AzuriteProcesses? s_azurite;
    private static string s_connectionString = "";

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        s_azurite = await TestAzurite.StartAsync("namefeed");
        s_connectionString = s_azurite.ConnectionString;
        var storage = Storage();
        await storage.EnsureCreatedAsync(CancellationToken.None);
    }

    [ClassCleanup]
    public static void Stop()
    {
        s_azurite?.Kill();
    }

    [TestMethod]
    public async Task APublish_IsAddedToAHeldSet_FromTheFeed_WithoutReadingAllTheTenantsNamesAgain()
    {
        const string tenant = "feed-a";
        var storage = Storage();
        using var cache = new MemoryCache(new MemoryCacheOptions());
        var epochs = new RegistryEpochs(storage, TimeProvider.System);
        var registry = new ModelRegistry(storage, cache, epochs, TimeProvider.System);
        for (var i = 0; i < 30; i++)
        {
            Assert.IsTrue(await registry.TryInsertFirstAsync(Row(tenant, $"m{i:00}"), CancellationToken.None));
        }

        var index = new ModelNameIndex(storage, epochs, TimeProvider.System);
        await epochs.PollAsync(CancellationToken.None);
        Assert.IsTrue(await index.MayExistAsync(tenant, "m00", CancellationToken.None), "no set held yet: the registry decides");
        await WaitUntilAsync(() => index.Peek(tenant, "m29") == true, "the first set is loaded with every name");
        Assert.AreEqual(1, index.Loads);
        Assert.AreEqual(false, index.Peek(tenant, "late"));

        // Published after the set was loaded, by another writer (its own registry and epochs, as the publisher is).
        var publisherEpochs = new RegistryEpochs(storage, TimeProvider.System);
        var publisher = new ModelRegistry(storage, cache, publisherEpochs, TimeProvider.System);
        Assert.IsTrue(await publisher.TryInsertFirstAsync(Row(tenant, "late"), CancellationToken.None));
        await epochs.PollAsync(CancellationToken.None);

        Assert.IsTrue(await index.MayExistAsync(tenant, "late", CancellationToken.None), "a name the stale set lacks is let through while the set catches up");
        await WaitUntilAsync(() => index.Peek(tenant, "late") == true, "the set has the new name");
        Assert.AreEqual(1, index.Loads, "the set was brought up to date without reading all the tenant's names again");
        Assert.IsTrue(index.FeedReads >= 1, "it read the feed");
        Assert.AreEqual(true, index.Peek(tenant, "m00"), "and kept the names it had");
        Assert.AreEqual(false, index.Peek(tenant, "never-published"), "a made-up name is not in it");
    }

    [TestMethod]
    public async Task AHeldSet_IsBroughtUpToDate_FromTheFeed_WithNoRequest()
    {
        const string tenant = "feed-e";
        var storage = Storage();
        using var cache = new MemoryCache(new MemoryCacheOptions());
        var epochs = new RegistryEpochs(storage, TimeProvider.System);
        var registry = new ModelRegistry(storage, cache, epochs, TimeProvider.System);
        Assert.IsTrue(await registry.TryInsertFirstAsync(Row(tenant, "first"), CancellationToken.None));
        var index = new ModelNameIndex(storage, epochs, TimeProvider.System);
        await epochs.PollAsync(CancellationToken.None);
        await index.MayExistAsync(tenant, "first", CancellationToken.None);
        await WaitUntilAsync(() => index.Peek(tenant, "first") == true, "the set is loaded");
        await LoadEverySetAheadAsync(index);
        var loads = index.Loads;

        // Publishes by another writer while no request comes (a bulk publish with no traffic).
        var publisher = new ModelRegistry(storage, cache, new RegistryEpochs(storage, TimeProvider.System), TimeProvider.System);
        for (var i = 0; i < 5; i++)
        {
            Assert.IsTrue(await publisher.TryInsertFirstAsync(Row(tenant, $"bulk{i}"), CancellationToken.None));
        }

        await epochs.PollAsync(CancellationToken.None);
        await index.CatchUpAsync(CancellationToken.None);
        Assert.AreEqual(true, index.Peek(tenant, "bulk4"), "the set has the names published since, with no request for them");
        Assert.AreEqual(loads, index.Loads, "from the feed: the tenant's names were not read in full again");
        Assert.IsTrue(index.FeedReads >= 1, "it read the feed");
    }

    [TestMethod]
    public async Task ATenantsSet_IsLoadedAhead_OfItsFirstRequest()
    {
        const string tenant = "feed-f";
        var storage = Storage();
        using var cache = new MemoryCache(new MemoryCacheOptions());
        var epochs = new RegistryEpochs(storage, TimeProvider.System);
        var registry = new ModelRegistry(storage, cache, epochs, TimeProvider.System);
        Assert.IsTrue(await registry.TryInsertFirstAsync(Row(tenant, "published"), CancellationToken.None));
        var index = new ModelNameIndex(storage, epochs, TimeProvider.System);
        await epochs.PollAsync(CancellationToken.None);
        Assert.IsNull(index.Peek(tenant, "published"), "no set before");

        await LoadEverySetAheadAsync(index);

        Assert.AreEqual(true, index.Peek(tenant, "published"), "loaded with no request for the tenant");
        Assert.AreEqual(false, index.Peek(tenant, "made-up"));
    }

    /// <summary>Catch-up rounds until a round loads nothing more (one set a round; other tests' tenants share this Azurite).</summary>
    private static async Task LoadEverySetAheadAsync(ModelNameIndex index)
    {
        for (var round = 0; round < 100; round++)
        {
            var before = index.Loads;
            await index.CatchUpAsync(CancellationToken.None);
            if (index.Loads == before)
            {
                return;
            }
        }

        Assert.Fail("catch-up rounds kept loading sets");
    }

    [TestMethod]
    public async Task AModelPublishedAMomentAgo_PastTheReadBudget_IsLetThroughOnItsFirstRequest_AfterAnOnDemandEpochRead()
    {
        const string tenant = "feed-d";
        var storage = Storage();
        using var cache = new MemoryCache(new MemoryCacheOptions());
        var epochs = new RegistryEpochs(storage, TimeProvider.System);
        var registry = new ModelRegistry(storage, cache, epochs, TimeProvider.System);
        Assert.IsTrue(await registry.TryInsertFirstAsync(Row(tenant, "known"), CancellationToken.None));
        var index = new ModelNameIndex(storage, epochs, TimeProvider.System);
        await epochs.PollAsync(CancellationToken.None);
        await index.MayExistAsync(tenant, "known", CancellationToken.None);
        await WaitUntilAsync(() => index.Peek(tenant, "known") == true, "the set is loaded");

        // Spend the tenant's budget of reads for names the set lacks (and the on-demand read a junk name may wait for).
        var junk = 0;
        while (await index.MayExistAsync(tenant, $"junk-{junk++}", CancellationToken.None) && junk < 1_000)
        {
        }

        Assert.IsTrue(junk < 1_000, "the budget ran out");
        Assert.IsFalse(await index.MayExistAsync(tenant, "more-junk", CancellationToken.None), "past the budget a name the set lacks is 404");

        // A publish by another writer, which this process's epoch poll has not seen yet; then the spacing of on-demand reads.
        var publisher = new ModelRegistry(storage, cache, new RegistryEpochs(storage, TimeProvider.System), TimeProvider.System);
        Assert.IsTrue(await publisher.TryInsertFirstAsync(Row(tenant, "fresh"), CancellationToken.None));
        await Task.Delay(RegistryEpochs.RefreshSpacing + TimeSpan.FromMilliseconds(50));

        Assert.IsTrue(await index.MayExistAsync(tenant, "fresh", CancellationToken.None), "its first request waited for the tenant's epoch, saw the change, and was let through");
    }

    [TestMethod]
    public async Task EveryChange_NamesItsModel_InARowWrittenBeforeItsEpoch_AndConcurrentChangesShareRows()
    {
        const string tenant = "feed-b";
        var storage = Storage();
        using var cache = new MemoryCache(new MemoryCacheOptions());
        var epochs = new RegistryEpochs(storage, TimeProvider.System);
        var registry = new ModelRegistry(storage, cache, epochs, TimeProvider.System);
        var since = DateTimeOffset.UtcNow.AddSeconds(-5).UtcTicks;

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => registry.TryInsertFirstAsync(Row(tenant, $"c{i:00}"), CancellationToken.None)));

        var feed = new RegistryNameFeed(storage, TimeProvider.System);
        var names = await feed.ReadSinceAsync(tenant, since, CancellationToken.None);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 40).Select(i => $"c{i:00}").ToArray(), names.Distinct().ToArray(), "every change's model is in the feed");
        var rows = 0;
        await foreach (var _ in storage.RegistryNamesTable.QueryAsync<RegistryNameEntity>(e => e.PartitionKey == tenant))
        {
            rows++;
        }

        Assert.IsTrue(rows < 40, $"forty changes landing together share bumps and rows ({rows} rows)");
        var epoch = await storage.RegistryEpochsTable.GetEntityIfExistsAsync<RegistryEpochEntity>(RegistryEpochEntity.PartitionKeyValue, tenant);
        Assert.IsTrue(epoch.HasValue, "the epoch was bumped");
    }

    [TestMethod]
    public async Task RowsOlderThanTheRetention_AreTrimmed_AndNewerOnesKept()
    {
        const string tenant = "feed-c";
        var storage = Storage();
        // Two writers, one whose clock says it wrote a minute past the retention ago.
        var past = new RegistryNameFeed(storage, new MovableClock(DateTimeOffset.UtcNow - RegistryNameFeed.Retention - TimeSpan.FromMinutes(1)));
        await past.AppendAsync(tenant, ["old-a", "old-b"], CancellationToken.None);
        var feed = new RegistryNameFeed(storage, TimeProvider.System);
        await feed.AppendAsync(tenant, ["new-a"], CancellationToken.None);
        CollectionAssert.AreEquivalent(new[] { "old-a", "old-b", "new-a" }, (await feed.ReadSinceAsync(tenant, 0, CancellationToken.None)).ToArray());

        await feed.TrimAsync(tenant, CancellationToken.None);

        var left = await feed.ReadSinceAsync(tenant, 0, CancellationToken.None);
        CollectionAssert.AreEqual(new[] { "new-a" }, left.ToArray());
    }

    private static StorageClients Storage() => new(Options.Create(new StorageOptions { ConnectionString = s_connectionString }));

    private static ModelVersionEntity Row(string tenant, string model) => new()
    {
        PartitionKey = ModelNames.ModelKey(tenant, model),
        RowKey = "1",
        Tenant = tenant,
        Model = model,
        Version = "1",
        State = ModelStates.Ready,
        Sha256 = new string('a', 64),
        PublishedAt = DateTimeOffset.UtcNow,
    };

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.IsTrue(condition(), what);
    }

    private sealed class MovableClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
