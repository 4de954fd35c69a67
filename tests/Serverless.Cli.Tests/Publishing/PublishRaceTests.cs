using System.Security.Cryptography;
using Azure;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;
using Serverless.Publishing;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>
/// Issue 16, racing writers: two deliveries of one drop, a re-drop of a published version, an alias move against a
/// delete. Each ends consistent: one Ready row and its blob, the published version untouched and still resolved, and
/// never an alias on a version that is gone. The publisher and lifecycle run in this process (<see cref="PublishingRig"/>)
/// against the shared cluster's storage, so the test decides when each writer runs.
/// </summary>
[TestClass]
public sealed class PublishRaceTests
{
    private const string Tenant = "demo";
    private static PublishingRig? s_rig;
    private static WarmGate? s_gate;

    private static PublishingRig Rig => s_rig ?? throw new InvalidOperationException("no rig");

    [ClassInitialize]
    public static void Start(TestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // Closed: the one test that warms (the alias move against a delete) holds the warm-up open while it deletes.
        s_gate = new WarmGate(open: false);
        s_rig = new PublishingRig(SharedCluster.Instance.State.Storage, SharedCluster.Runtime, s_gate);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        if (s_rig is not null)
        {
            await s_rig.DisposeAsync();
        }
    }

    /// <summary>
    /// Caught in the old code: both deliveries read "no row", both wrote theirs with a blind upsert, and the last one
    /// replaced the first one's row (last writer wins): the first delivery's verdict described a row no longer stored
    /// (its PublishedAt, on this stepping clock, differs from the stored one's).
    /// </summary>
    [TestMethod]
    [Timeout(120_000)]
    public async Task TwoDeliveriesOfOneDrop_AtOnce_WriteOneReadyRowOnce_AndItsBlob()
    {
        const string model = "race-same";
        var bytes = DemoModels.Linear();
        var streams = RendezvousStream.Group(bytes, bytes);

        var outcomes = await Task.WhenAll(
            Rig.Publisher().PublishAsync(Tenant, model, "1", streams[0], CancellationToken.None),
            Rig.Publisher().PublishAsync(Tenant, model, "1", streams[1], CancellationToken.None));

        var row = await Rig.Registry.GetAsync(Tenant, model, "1", CancellationToken.None);
        Assert.IsNotNull(row);
        Assert.AreEqual(ModelStates.Ready, row.State, row.Error);
        Assert.AreEqual(Sha(bytes), row.Sha256);
        foreach (var outcome in outcomes)
        {
            Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
            Assert.AreEqual(row.PublishedAt.UtcTicks, outcome.Row!.PublishedAt.UtcTicks, "both verdicts are the one row stored: it was written once, the other delivery changed nothing");
        }

        await AssertOnlyBlobIsTheRowsAsync(model, "1", row);
    }

    /// <summary>
    /// Caught in the old code: both deliveries answered Ready (the row held whichever wrote last, so one "Ready" was a
    /// lie) and the loser's blob stayed, named by no row.
    /// </summary>
    [TestMethod]
    [Timeout(120_000)]
    public async Task TwoDeliveriesWithOtherBytes_AtOnce_OneIsPublished_TheOtherRefusedNamingTheVersion_NothingOrphaned()
    {
        const string model = "race-other";
        var streams = RendezvousStream.Group(DemoModels.Linear(), DemoModels.TwoInputs());

        var outcomes = await Task.WhenAll(
            Rig.Publisher().PublishAsync(Tenant, model, "1", streams[0], CancellationToken.None),
            Rig.Publisher().PublishAsync(Tenant, model, "1", streams[1], CancellationToken.None));

        var ready = outcomes.Where(o => o.IsReady).ToArray();
        Assert.HasCount(1, ready, string.Join(" | ", outcomes.Select(o => $"{o.State}: {o.Error}")));
        var refused = outcomes.Single(o => !o.IsReady);
        StringAssert.Contains(refused.Error, "version '1'");
        StringAssert.Contains(refused.Error, "already published");
        var row = await Rig.Registry.GetAsync(Tenant, model, "1", CancellationToken.None);
        Assert.IsNotNull(row);
        Assert.AreEqual(ModelStates.Ready, row.State);
        Assert.AreEqual(ready[0].Row!.Sha256, row.Sha256, "the row is the winner's");
        await AssertOnlyBlobIsTheRowsAsync(model, "1", row);
    }

    /// <summary>
    /// Caught in the old code: the size check came before the row was read, and its Rejected row replaced the Ready
    /// one (no hash, no blob name): production and latest resolved to a rejected version (404) and the blob was orphaned.
    /// </summary>
    [TestMethod]
    [Timeout(120_000)]
    public async Task AnOversizeReDrop_OfAReadyVersion_LeavesTheRowUnchanged_AndItStillResolves()
    {
        const string model = "race-oversize";
        var bytes = DemoModels.Linear();
        var published = await Rig.Publisher().PublishAsync(Tenant, model, "1", new MemoryStream(bytes), CancellationToken.None);
        Assert.AreEqual(ModelStates.Ready, published.State, published.Error);
        await Rig.Lifecycle.MoveAliasAsync(Tenant, model, ModelRegistry.ProductionAlias, "1", warm: false, CancellationToken.None);
        var before = (await Rig.Registry.GetAsync(Tenant, model, "1", CancellationToken.None))!;

        // Another publisher instance with a limit below the file: the re-drop is over it.
        var outcome = await Rig.Publisher(maxModelBytes: bytes.Length - 1).PublishAsync(Tenant, model, "1", new MemoryStream(bytes.Concat(new byte[64]).ToArray()), CancellationToken.None);

        Assert.AreEqual(ModelStates.Rejected, outcome.State);
        StringAssert.Contains(outcome.Error, "version '1'");
        StringAssert.Contains(outcome.Error, "already published");
        StringAssert.Contains(outcome.Error, "over the limit");
        var after = (await Rig.Registry.GetAsync(Tenant, model, "1", CancellationToken.None))!;
        Assert.AreEqual(ModelStates.Ready, after.State);
        Assert.AreEqual(before.Sha256, after.Sha256);
        Assert.AreEqual(before.BlobName, after.BlobName);
        Assert.AreEqual(before.SizeBytes, after.SizeBytes);
        Assert.AreEqual(outcome.Error, after.DropError, "the refusal is noted on the published row, where `publish` looks for it");
        Assert.IsTrue((await Rig.Storage.Models.GetBlobClient(after.BlobName).ExistsAsync()).Value, "the blob stays");
        Rig.Registry.Invalidate(Tenant, model);
        foreach (var version in new string?[] { null, ModelRegistry.ProductionAlias, ModelRegistry.LatestAlias })
        {
            var resolved = await Rig.Registry.ResolveAsync(Tenant, model, version, CancellationToken.None);
            Assert.AreEqual("1", resolved?.RowKey, version ?? "(no version)");
            Assert.AreEqual(ModelStates.Ready, resolved!.State, version ?? "(no version)");
        }

        await AssertFsckFindsNothingAsync(model);
    }

    /// <summary>
    /// Caught in the old code: the move checked the version before its warm-up and wrote the alias after it without
    /// looking again; the delete ran inside the warm-up (no alias yet, so allowed) and the alias was then written at a
    /// version that was gone (requests without a version got 404).
    /// </summary>
    [TestMethod]
    [Timeout(120_000)]
    public async Task AnAliasMove_RacingADeleteDuringItsWarmUp_NeverLeavesADanglingAlias()
    {
        const string model = "race-alias-delete";
        await PublishReadyAsync(model, "1");
        await PublishReadyAsync(model, "2");
        var move = Rig.Lifecycle.MoveAliasAsync(Tenant, model, ModelRegistry.ProductionAlias, "1", warm: true, CancellationToken.None);
        await s_gate!.Entered.WaitAsync(TimeSpan.FromSeconds(30));

        Exception? deleteRefused = null;
        try
        {
            await Rig.Lifecycle.DeleteAsync(Tenant, model, "1", CancellationToken.None);
        }
        catch (InvalidOperationException e)
        {
            deleteRefused = e;
        }

        s_gate.Release();
        Exception? moveFailed = null;
        try
        {
            await move;
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException)
        {
            moveFailed = e;
        }

        var production = await AssertNoDanglingAliasAsync(model);
        if (deleteRefused is not null)
        {
            StringAssert.Contains(deleteRefused.Message, ModelRegistry.ProductionAlias, "a refused delete names the alias");
            Assert.AreEqual("1", production, "the delete was refused: the alias points at the version it kept");
        }
        else
        {
            Assert.IsNotNull(moveFailed, "the version was deleted during the warm-up: the move must fail, not write the alias");
            StringAssert.Contains(moveFailed.Message, "'1'");
            Assert.IsNull(production, "no alias was written at the deleted version");
        }
    }

    /// <summary>
    /// The fence the delete relies on, checked directly: an alias move writes the version's row too (in one transaction
    /// with the alias), so a delete or retire that read the row before the move fails its conditional write and must
    /// read the aliases again. Caught in the old code: the move wrote only the alias row, the stale delete succeeded, and
    /// the alias dangled.
    /// </summary>
    [TestMethod]
    [Timeout(120_000)]
    public async Task AnAliasMove_ChangesTheVersionRowsETag_SoADeleteDecidedBeforeItFails_AndTheRetriedDeleteNamesTheAlias()
    {
        const string model = "race-alias-fence";
        await PublishReadyAsync(model, "1");
        await PublishReadyAsync(model, "2");
        var read = (await Rig.Registry.GetAsync(Tenant, model, "1", CancellationToken.None))!;

        await Rig.Lifecycle.MoveAliasAsync(Tenant, model, "staging", "1", warm: false, CancellationToken.None);

        var stale = await Assert.ThrowsExactlyAsync<RequestFailedException>(() => Rig.Storage.ModelsTable.DeleteEntityAsync(read.PartitionKey, read.RowKey, read.ETag));
        Assert.AreEqual(412, stale.Status, "a delete decided before the alias move fails its ETag check");
        var refused = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => Rig.Lifecycle.DeleteAsync(Tenant, model, "1", CancellationToken.None));
        StringAssert.Contains(refused.Message, "staging");
        var retire = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => Rig.Lifecycle.RetireAsync(Tenant, model, "1", CancellationToken.None));
        StringAssert.Contains(retire.Message, "staging");
        Assert.AreEqual("1", await AssertNoDanglingAliasAsync(model, "staging"));
    }

    private static async Task PublishReadyAsync(string model, string version)
    {
        var outcome = await Rig.Publisher().PublishAsync(Tenant, model, version, new MemoryStream(DemoModels.Linear()), CancellationToken.None);
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
    }

    /// <summary>Every alias row of the model names a Ready version row; returns the version <paramref name="alias"/> points at.</summary>
    private static async Task<string?> AssertNoDanglingAliasAsync(string model, string alias = ModelRegistry.ProductionAlias)
    {
        string? pointed = null;
        Rig.Registry.Invalidate(Tenant, model);
        foreach (var row in (await Rig.Registry.GetRowsAsync(Tenant, model, CancellationToken.None)).Where(r => r.IsAlias))
        {
            var target = await Rig.Registry.GetAsync(Tenant, model, row.Version, CancellationToken.None);
            Assert.AreEqual(ModelStates.Ready, target?.State, $"alias '{row.RowKey[1..]}' points at version '{row.Version}', which is {target?.State ?? "gone"}");
            if (row.RowKey == ModelVersionEntity.AliasPrefix + alias)
            {
                pointed = row.Version;
            }
        }

        await AssertFsckFindsNothingAsync(model);
        return pointed;
    }

    /// <summary>What `serverless fsck` would say about this model: nothing (its rows, blobs and aliases agree).</summary>
    private static async Task AssertFsckFindsNothingAsync(string model)
    {
        var findings = await new RegistryCheck(Rig.Storage, Rig.Registry, Rig.Lifecycle, TimeProvider.System).RunAsync(repair: false, CancellationToken.None);
        var mine = findings.Where(f => f.Subject.StartsWith($"{Tenant}/{model}/", StringComparison.Ordinal) || f.Subject.StartsWith($"{Tenant}/{model}@", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(0, mine.Count, "fsck: " + string.Join("; ", mine.Select(f => $"{f.Kind} {f.Subject}: {f.Detail}")));
    }

    /// <summary>The version's prefix in <c>models</c> holds exactly the row's blob, whose bytes hash to the row's SHA-256.</summary>
    private static async Task AssertOnlyBlobIsTheRowsAsync(string model, string version, ModelVersionEntity row)
    {
        var names = new List<string>();
        await foreach (var blob in Rig.Storage.Models.GetBlobsAsync(prefix: $"{Tenant}/{model}/{version}/"))
        {
            names.Add(blob.Name);
        }

        CollectionAssert.AreEqual(new[] { row.BlobName }, names, "one blob, the row's: none orphaned");
        var content = await Rig.Storage.Models.GetBlobClient(row.BlobName).DownloadContentAsync();
        Assert.AreEqual(row.Sha256, Sha(content.Value.Content.ToArray()));
        await AssertFsckFindsNothingAsync(model);
    }

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
