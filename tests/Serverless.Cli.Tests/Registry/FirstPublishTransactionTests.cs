using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.Core.Storage;

namespace Serverless.Cli.Tests.Registry;

/// <summary>
/// A model's first publish writes its version row and its <c>latest</c> alias in one Table transaction (issue 17: one
/// write instead of three for most of a fleet's publishes), all or nothing. Against an Azurite of its own.
/// </summary>
[TestClass]
public sealed class FirstPublishTransactionTests
{
    private static AzuriteProcesses? s_azurite;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        s_azurite = await TestAzurite.StartAsync("firstpublish");
        await Storage().EnsureCreatedAsync(CancellationToken.None);
    }

    [ClassCleanup]
    public static void Stop() => s_azurite?.Kill();

    [TestMethod]
    public async Task TheRowAndItsLatestAlias_AreWrittenTogether()
    {
        var storage = Storage();
        using var cache = new MemoryCache(new MemoryCacheOptions());
        var registry = new ModelRegistry(storage, cache, new RegistryEpochs(storage, TimeProvider.System), TimeProvider.System);

        Assert.IsTrue(await registry.TryInsertFirstAsync(Row("t", "fresh", "1"), CancellationToken.None));

        var row = await storage.ModelsTable.GetEntityIfExistsAsync<ModelVersionEntity>(ModelNames.ModelKey("t", "fresh"), "1");
        var latest = await storage.ModelsTable.GetEntityIfExistsAsync<ModelVersionEntity>(ModelNames.ModelKey("t", "fresh"), ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias);
        Assert.IsTrue(row.HasValue, "the version row");
        Assert.IsTrue(latest.HasValue, "the latest alias");
        Assert.AreEqual("1", latest.Value!.Version, "pointing at the version");
    }

    [TestMethod]
    public async Task WhenEitherRowExists_NothingIsWritten()
    {
        var storage = Storage();
        using var cache = new MemoryCache(new MemoryCacheOptions());
        var registry = new ModelRegistry(storage, cache, new RegistryEpochs(storage, TimeProvider.System), TimeProvider.System);
        // Another writer was first with the alias (its version 7): this first publish of version 1 must not land half.
        await storage.ModelsTable.AddEntityAsync(new ModelVersionEntity
        {
            PartitionKey = ModelNames.ModelKey("t", "raced"),
            RowKey = ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias,
            Tenant = "t",
            Model = "raced",
            Version = "7",
            State = ModelStates.Ready,
        });

        Assert.IsFalse(await registry.TryInsertFirstAsync(Row("t", "raced", "1"), CancellationToken.None), "not the first: the caller takes the general path");

        var row = await storage.ModelsTable.GetEntityIfExistsAsync<ModelVersionEntity>(ModelNames.ModelKey("t", "raced"), "1");
        var latest = await storage.ModelsTable.GetEntityAsync<ModelVersionEntity>(ModelNames.ModelKey("t", "raced"), ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias);
        Assert.IsFalse(row.HasValue, "the version row was not written without its alias");
        Assert.AreEqual("7", latest.Value.Version, "the other writer's alias stands");
    }

    private static StorageClients Storage() => new(Options.Create(new StorageOptions { ConnectionString = s_azurite!.ConnectionString }));

    private static ModelVersionEntity Row(string tenant, string model, string version) => new()
    {
        PartitionKey = ModelNames.ModelKey(tenant, model),
        RowKey = version,
        Tenant = tenant,
        Model = model,
        Version = version,
        State = ModelStates.Ready,
        PublishedAt = DateTimeOffset.UtcNow,
    };
}
