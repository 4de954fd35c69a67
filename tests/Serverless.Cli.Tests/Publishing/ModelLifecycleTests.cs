using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>Aliases (latest, production), rollback, retirement and deletion of model versions on the shared cluster.</summary>
[TestClass]
public sealed class ModelLifecycleTests
{
    private const string Json = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";
    private static readonly TimeSpan RouterCache = TimeSpan.FromSeconds(2.5); // the router caches registry and placement rows for 2 s

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    public async Task Latest_IsSetAutomatically_ToTheHighestReadyVersion()
    {
        const string model = "life-latest";
        await PublishReadyAsync(model, "1");
        await PublishReadyAsync(model, "2");

        Assert.AreEqual("2", await WaitForLatestAsync(model, "2"), "the registry has an @latest row pointing at the highest version");
        await Task.Delay(RouterCache);

        var (status, body, response) = await Cluster.InferAsync(Cluster.DemoKey, model, Json, version: ModelRegistry.LatestAlias);
        Assert.AreEqual(200, status, body?.ToJsonString());
        Assert.AreEqual("2", (string?)body!["model_version"]);
        Assert.AreEqual("2", response.Headers.GetValues("x-model-version").Single());
    }

    [TestMethod]
    public async Task AnAliasMove_GivesTheTenantANewRegistryEpoch_AndTheRouterServesIt_AfterTheModelWasIdle()
    {
        const string model = "life-epoch";
        await PublishReadyAsync(model, "1");
        await PublishReadyAsync(model, "2");
        var before = await EpochAsync("demo");
        var (_, first, _) = await Cluster.InferAsync(Cluster.DemoKey, model, Json, version: ModelRegistry.ProductionAlias);
        Assert.IsNull(first?["model_version"], "no production alias yet: 404");

        // Idle past the registry's 2 s freshness: the router's rows for the model stay valid under the epoch.
        await Task.Delay(RouterCache);
        await Cluster.Lifecycle.MoveAliasAsync("demo", model, ModelRegistry.ProductionAlias, "2", warm: false, CancellationToken.None);
        var after = await EpochAsync("demo");
        Assert.AreNotEqual(before, after, "the alias move changed the tenant's registry epoch");

        // The routers and shards read the epochs every second; within a bounded wait the move is served.
        string? served = null;
        for (var i = 0; i < 30 && served != "2"; i++)
        {
            var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, model, Json, version: ModelRegistry.ProductionAlias);
            served = status == 200 ? (string?)body!["model_version"] : null;
            if (served != "2")
            {
                await Task.Delay(200);
            }
        }

        Assert.AreEqual("2", served, "the router serves the moved alias");
    }

    private static async Task<string?> EpochAsync(string tenant)
    {
        var row = await Cluster.Storage.RegistryEpochsTable.GetEntityIfExistsAsync<RegistryEpochEntity>(RegistryEpochEntity.PartitionKeyValue, tenant);
        return row.HasValue ? row.Value!.Epoch : null;
    }

    [TestMethod]
    public async Task MovingProduction_WarmsTheVersion_FirstRequestIsACacheHit()
    {
        const string model = "life-warm";
        await PublishReadyAsync(model, "1");
        await PublishReadyAsync(model, "2");
        await Cluster.Placements.SetReplicasAsync("demo", model, 2, "test", CancellationToken.None);

        var move = await Cluster.Lifecycle.MoveAliasAsync("demo", model, ModelRegistry.ProductionAlias, "1", warm: true, CancellationToken.None);

        Assert.AreEqual(ModelRegistry.ProductionAlias, move.Alias);
        Assert.IsNull(move.PreviousVersion, "a new alias had no version before");
        Assert.AreEqual("1", move.Version);
        Assert.AreEqual(2, move.Warmed.Count, string.Join("; ", move.Warmed));
        foreach (var line in move.Warmed)
        {
            StringAssert.Contains(line, "loaded", string.Join("; ", move.Warmed));
        }

        await Task.Delay(RouterCache);
        var (status, body, response) = await Cluster.InferAsync(Cluster.DemoKey, model, Json);
        Assert.AreEqual(200, status, body?.ToJsonString());
        Assert.AreEqual("1", (string?)body!["model_version"]);
        Assert.AreEqual("hit", response.Headers.GetValues("x-cache").Single(), "the first request after the warm move finds the session loaded");
    }

    [TestMethod]
    public async Task VersionsProduction_ResolvesTheAlias()
    {
        const string model = "life-alias-path";
        await PublishReadyAsync(model, "1");
        await PublishReadyAsync(model, "2");
        await Cluster.Lifecycle.MoveAliasAsync("demo", model, ModelRegistry.ProductionAlias, "1", warm: false, CancellationToken.None);
        await Task.Delay(RouterCache);

        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, model, Json, version: ModelRegistry.ProductionAlias);

        Assert.AreEqual(200, status, body?.ToJsonString());
        Assert.AreEqual("1", (string?)body!["model_version"]);
        var (metaStatus, meta) = await Cluster.GetAsync(Cluster.DemoKey, $"v2/models/{model}/versions/{ModelRegistry.ProductionAlias}");
        Assert.AreEqual(200, metaStatus, meta?.ToJsonString());
    }

    [TestMethod]
    public async Task Rollback_MovesTheAliasBackAndForth_ReportingThePreviousVersion()
    {
        const string model = "life-rollback";
        await PublishReadyAsync(model, "1");
        await PublishReadyAsync(model, "2");

        var first = await Cluster.Lifecycle.MoveAliasAsync("demo", model, ModelRegistry.ProductionAlias, "1", warm: false, CancellationToken.None);
        var forward = await Cluster.Lifecycle.MoveAliasAsync("demo", model, ModelRegistry.ProductionAlias, "2", warm: true, CancellationToken.None);
        await Task.Delay(RouterCache);
        var (_, onTwo, _) = await Cluster.InferAsync(Cluster.DemoKey, model, Json);
        var back = await Cluster.Lifecycle.MoveAliasAsync("demo", model, ModelRegistry.ProductionAlias, "1", warm: true, CancellationToken.None);
        await Task.Delay(RouterCache);
        var (status, onOne, _) = await Cluster.InferAsync(Cluster.DemoKey, model, Json);

        Assert.IsNull(first.PreviousVersion);
        Assert.AreEqual("1", forward.PreviousVersion);
        Assert.AreEqual("2", forward.Version);
        Assert.AreEqual("2", back.PreviousVersion);
        Assert.AreEqual("1", back.Version);
        Assert.AreEqual("2", (string?)onTwo!["model_version"]);
        Assert.AreEqual(200, status, onOne?.ToJsonString());
        Assert.AreEqual("1", (string?)onOne!["model_version"]);
        var rows = await Cluster.Registry.GetRowsAsync("demo", model, CancellationToken.None);
        Assert.AreEqual("1", rows.Single(r => r.RowKey == ModelVersionEntity.AliasPrefix + ModelRegistry.ProductionAlias).Version);
    }

    [TestMethod]
    public async Task Retire_IsRefusedWhileAliased_ThenAnswers404Retired_AndKeepsTheBytes()
    {
        const string model = "life-retire";
        var v1 = await PublishReadyAsync(model, "1");
        await PublishReadyAsync(model, "2");
        await Cluster.Lifecycle.MoveAliasAsync("demo", model, "staging", "1", warm: false, CancellationToken.None);

        var refused = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => Cluster.Lifecycle.RetireAsync("demo", model, "1", CancellationToken.None));
        StringAssert.Contains(refused.Message, "staging");
        Assert.AreEqual(ModelStates.Ready, (await Cluster.Registry.GetAsync("demo", model, "1", CancellationToken.None))!.State, "a refused retirement changes nothing");

        await Cluster.Lifecycle.MoveAliasAsync("demo", model, "staging", "2", warm: false, CancellationToken.None);
        await Cluster.Lifecycle.RetireAsync("demo", model, "1", CancellationToken.None);
        await Task.Delay(RouterCache);

        var row = await Cluster.Registry.GetAsync("demo", model, "1", CancellationToken.None);
        Assert.AreEqual(ModelStates.Retired, row!.State);
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, model, Json, version: "1");
        Assert.AreEqual(404, status, body?.ToJsonString());
        StringAssert.Contains((string?)body!["error"], "retired");
        Assert.IsFalse(string.IsNullOrEmpty(v1.BlobName));
        Assert.IsTrue((await Cluster.Storage.Models.GetBlobClient(v1.BlobName).ExistsAsync()).Value, "a retired version's bytes stay until it is deleted");
        var (current, currentBody, _) = await Cluster.InferAsync(Cluster.DemoKey, model, Json);
        Assert.AreEqual(200, current, currentBody?.ToJsonString());
        Assert.AreEqual("2", (string?)currentBody!["model_version"]);
    }

    [TestMethod]
    public async Task Delete_RemovesRowBytesAndDrop_AndLatestMovesDown_ThenDisappears()
    {
        const string model = "life-delete";
        await PublishReadyAsync(model, "1");
        await PublishReadyAsync(model, "2");
        var v3 = await PublishReadyAsync(model, "3");
        Assert.AreEqual("3", await WaitForLatestAsync(model, "3"));
        var drop3 = ModelNames.DropBlobName("demo", model, "3");
        Assert.IsTrue((await Cluster.Storage.Drop.GetBlobClient(drop3).ExistsAsync()).Value);

        await Cluster.Lifecycle.DeleteAsync("demo", model, "3", CancellationToken.None);

        Assert.IsNull(await Cluster.Registry.GetAsync("demo", model, "3", CancellationToken.None), "the row is gone");
        Assert.IsFalse((await Cluster.Storage.Models.GetBlobClient(v3.BlobName).ExistsAsync()).Value, "the served bytes are gone");
        Assert.IsFalse((await Cluster.Storage.Drop.GetBlobClient(drop3).ExistsAsync()).Value, "the dropped file is gone");
        Assert.AreEqual("2", await LatestAsync(model), "latest moves to the highest remaining Ready version");
        await Task.Delay(RouterCache);
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, model, Json, version: "3");
        Assert.AreEqual(404, status, body?.ToJsonString());
        var (current, currentBody, _) = await Cluster.InferAsync(Cluster.DemoKey, model, Json);
        Assert.AreEqual(200, current, currentBody?.ToJsonString());
        Assert.AreEqual("2", (string?)currentBody!["model_version"]);

        await Cluster.Lifecycle.DeleteAsync("demo", model, "2", CancellationToken.None);
        Assert.AreEqual("1", await LatestAsync(model));
        await Cluster.Lifecycle.DeleteAsync("demo", model, "1", CancellationToken.None);
        Assert.IsNull(await LatestAsync(model), "with no Ready version left there is no latest");
        Cluster.Registry.Invalidate("demo", model);
        Assert.AreEqual(0, (await Cluster.Registry.GetRowsAsync("demo", model, CancellationToken.None)).Count, "no row of the model is left");
        await Task.Delay(RouterCache);
        var (gone, goneBody, _) = await Cluster.InferAsync(Cluster.DemoKey, model, Json);
        Assert.AreEqual(404, gone, goneBody?.ToJsonString());
    }

    [TestMethod]
    public async Task AliasNames_AreValidated_AndAnAliasCannotPointAtARejectedVersion()
    {
        const string model = "life-alias-rules";
        await PublishReadyAsync(model, "1");
        var rejected = await Cluster.PublishAsync("demo", model, "2", System.Text.Encoding.UTF8.GetBytes("not a model"));
        Assert.AreEqual(ModelStates.Rejected, rejected.State);

        foreach (var alias in new[] { ModelRegistry.LatestAlias, "3", "Bad Alias" })
        {
            var error = await Assert.ThrowsExactlyAsync<ArgumentException>(
                () => Cluster.Lifecycle.MoveAliasAsync("demo", model, alias, "1", warm: false, CancellationToken.None),
                alias);
            StringAssert.Contains(error.Message, alias);
        }

        var notReady = await Assert.ThrowsExactlyAsync<InvalidOperationException>(
            () => Cluster.Lifecycle.MoveAliasAsync("demo", model, "staging", "2", warm: false, CancellationToken.None));
        StringAssert.Contains(notReady.Message, ModelStates.Rejected);
        Cluster.Registry.Invalidate("demo", model);
        var rows = await Cluster.Registry.GetRowsAsync("demo", model, CancellationToken.None);
        Assert.IsFalse(rows.Any(r => r.RowKey == ModelVersionEntity.AliasPrefix + "staging"), "a refused move writes no alias row");
        Assert.AreEqual("1", rows.Single(r => r.RowKey == ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias).Version, "latest stays on the Ready version");
    }

    private static async Task<ModelVersionEntity> PublishReadyAsync(string model, string version)
    {
        var outcome = await Cluster.PublishAsync("demo", model, version, DemoModels.Linear());
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
        return outcome.Row!;
    }

    /// <summary>
    /// The publisher writes the version row (the verdict publish waits for) before it moves <c>latest</c>,
    /// so right after a publish the alias may still be on the version before: wait a moment for it.
    /// </summary>
    private static async Task<string?> WaitForLatestAsync(string model, string expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        string? latest;
        while ((latest = await LatestAsync(model)) != expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        return latest;
    }

    private static async Task<string?> LatestAsync(string model)
    {
        Cluster.Registry.Invalidate("demo", model);
        var rows = await Cluster.Registry.GetRowsAsync("demo", model, CancellationToken.None);
        return rows.SingleOrDefault(r => r.RowKey == ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias)?.Version;
    }
}
