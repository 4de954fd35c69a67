using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Cli.Commands;
using Serverless.Core.Naming;
using Serverless.Core.Observability;
using Serverless.Core.Registry;
using Serverless.Core.Storage;
using Serverless.Routing;

namespace Serverless.Cli.Tests.Paging;

/// <summary>
/// Issue 17 (a hundred thousand models): listing the registry pages by key range and never reads it whole; the
/// dashboard's answer stays bounded however many models there are. Against an Azurite of its own (not the shared
/// cluster's, whose registry other tests read whole: fsck), holding 2,500+ models of one tenant and rows of neighbours
/// whose keys sort right beside it.
/// </summary>
[TestClass]
public sealed class ModelPagingTests
{
    private const int ManyModels = 2_500;
    private const int OtherPrefixModels = 50;
    private const int NeighbourModels = 300;
    private const string Tenant = "paging";

    // Tenants whose keys sort right beside the tenant's range [paging~, paging DEL): "paging-2~…" and "pagingz~…" below it
    // ('-' and 'z' are below '~'), "paginh~…" above it.
    private static readonly string[] Neighbours = ["paging-2", "pagingz", "paginh"];

    private static AzuriteProcesses? s_azurite;
    private static ServiceProvider? s_services;

    private static IServiceProvider Services => s_services ?? throw new InvalidOperationException("the class did not start");

    private static StorageClients Storage => Services.GetRequiredService<StorageClients>();

    private static ModelListing Listing => Services.GetRequiredService<ModelListing>();

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        s_azurite = await TestAzurite.StartAsync("paging");
        s_services = CliServices.Create(s_azurite.ConnectionString);
        await Storage.EnsureCreatedAsync(CancellationToken.None);

        var published = DateTimeOffset.UtcNow.AddHours(-1);
        var rows = new List<ModelVersionEntity>();
        for (var i = 0; i < ManyModels; i++)
        {
            // Every 10th Rejected, every 25th (not 10th) Retired, the rest Ready.
            var state = i % 10 == 0 ? ModelStates.Rejected : i % 25 == 0 ? ModelStates.Retired : ModelStates.Ready;
            rows.Add(Row(Tenant, Name("m", i), "1", state, published.AddSeconds(i)));
        }

        for (var i = 0; i < OtherPrefixModels; i++)
        {
            rows.Add(Row(Tenant, Name("n", i), "1", ModelStates.Ready, published.AddDays(-30)));
        }

        foreach (var neighbour in Neighbours)
        {
            for (var i = 0; i < NeighbourModels; i++)
            {
                rows.Add(Row(neighbour, Name("m", i), "1", ModelStates.Ready, published.AddDays(-30)));
            }
        }

        // One row per partition: no batch can carry them (a transaction is one partition), so in parallel.
        await Parallel.ForEachAsync(rows, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (row, ct) => await Storage.ModelsTable.AddEntityAsync(row, ct));

        // A model with five versions and aliases, in one batch transaction: a page may end inside its partition.
        var multi = new List<TableTransactionAction>();
        foreach (var version in new[] { "1", "2", "3", "4", "5" })
        {
            multi.Add(new TableTransactionAction(TableTransactionActionType.Add, Row(Tenant, "a-multi", version, ModelStates.Ready, published.AddDays(-30))));
        }

        foreach (var alias in new[] { "latest", "production" })
        {
            multi.Add(new TableTransactionAction(TableTransactionActionType.Add, new ModelVersionEntity
            {
                PartitionKey = ModelNames.ModelKey(Tenant, "a-multi"),
                RowKey = ModelVersionEntity.AliasPrefix + alias,
                Tenant = Tenant,
                Model = "a-multi",
                Version = "5",
                State = ModelStates.Ready,
            }));
        }

        await Storage.ModelsTable.SubmitTransactionAsync(multi, CancellationToken.None);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        if (s_services is not null)
        {
            await s_services.DisposeAsync();
        }

        s_azurite?.Kill();
    }

    [TestMethod]
    public async Task Pages_AreAtMostTheLimit_AndTheCursorWalksTheWholePrefix_InKeyOrder()
    {
        var seen = new List<string>();
        ModelListCursor? after = null;
        var pages = 0;
        do
        {
            var page = await Listing.ListAsync(new ModelListQuery { Tenant = Tenant, Prefix = "m-", Limit = 1_000, After = after }, CancellationToken.None);
            pages++;
            Assert.IsTrue(page.Rows.Count <= 1_000, $"a page of {page.Rows.Count} rows");
            Assert.AreEqual(page.Next is not null, page.More > 0);
            seen.AddRange(page.Rows.Select(r => r.Model));
            after = page.Next;
            if (after is not null)
            {
                Assert.AreEqual(ManyModels - seen.Count, page.More, "the count of the rest");
                Assert.IsFalse(page.MoreIsLowerBound);
            }
        }
        while (after is not null && pages < 10);

        Assert.AreEqual(3, pages);
        CollectionAssert.AreEqual(Enumerable.Range(0, ManyModels).Select(i => Name("m", i)).ToList(), seen, "every model of the prefix once, in key order");
    }

    [TestMethod]
    public async Task APrefix_IsAKeyRange_ThatReadsNoRowOfAnotherPrefixOrTenant()
    {
        using var reads = new ModelsTableReads();
        var page = await Listing.ListAsync(new ModelListQuery { Tenant = Tenant, Prefix = "n-", Limit = 100 }, CancellationToken.None);
        Assert.AreEqual(OtherPrefixModels, page.Rows.Count);
        Assert.IsTrue(page.Rows.All(r => r.Tenant == Tenant && r.Model.StartsWith("n-", StringComparison.Ordinal)));
        Assert.IsNull(page.Next);
        // 2,500 "m-" rows and 900 of the neighbours' sit beside them: a client-side filter would read them (4 reads of 1,000 at least).
        Assert.AreEqual(1, reads.Count, "Table reads of a 50-row prefix");

        var filter = ModelListing.Filter(new ModelListQuery { Tenant = Tenant, Prefix = "n-" });
        StringAssert.Contains(filter, "PartitionKey ge 'paging~n-' and PartitionKey lt 'paging~n.'");

        // A tenant's whole range leaves its neighbours out, whose keys sort right beside it.
        var all = await Listing.CountAsync(new ModelListQuery { Tenant = Tenant }, 100_000, CancellationToken.None);
        Assert.AreEqual((ManyModels + OtherPrefixModels + 5L, false), all);
    }

    [TestMethod]
    public async Task APage_EndsInsideAModelsVersions_AndGoesOnFromThere_WithoutAliases()
    {
        var versions = new List<string>();
        ModelListCursor? after = null;
        do
        {
            var page = await Listing.ListAsync(new ModelListQuery { Tenant = Tenant, Prefix = "a-", Limit = 2, After = after }, CancellationToken.None);
            Assert.IsTrue(page.Rows.Count <= 2);
            versions.AddRange(page.Rows.Select(r => r.RowKey));
            after = page.Next is null ? null : ModelListCursor.Parse(page.Next.ToString(), null, out _);
        }
        while (after is not null);

        CollectionAssert.AreEqual(new[] { "1", "2", "3", "4", "5" }, versions);
    }

    [TestMethod]
    public async Task TheStateFilter_ReturnsOnlyThatState_AndCountsTheRest()
    {
        var rejected = Enumerable.Range(0, ManyModels).Count(i => i % 10 == 0);
        var retired = Enumerable.Range(0, ManyModels).Count(i => i % 10 != 0 && i % 25 == 0);
        var page = await Listing.ListAsync(new ModelListQuery { Tenant = Tenant, State = ModelStates.Rejected, Limit = 100 }, CancellationToken.None);
        Assert.AreEqual(100, page.Rows.Count);
        Assert.IsTrue(page.Rows.All(r => r.State == ModelStates.Rejected));
        Assert.AreEqual(rejected - 100, page.More);

        var retiredPage = await Listing.ListAsync(new ModelListQuery { Tenant = Tenant, State = ModelStates.Retired, Limit = 1_000 }, CancellationToken.None);
        Assert.AreEqual(retired, retiredPage.Rows.Count);
        Assert.IsTrue(retiredPage.Rows.All(r => r.State == ModelStates.Retired));
        Assert.IsNull(retiredPage.Next);

        // The count stops at its cap, and says so.
        var capped = await Listing.ListAsync(new ModelListQuery { Tenant = Tenant, Limit = 10, CountCap = 500 }, CancellationToken.None);
        Assert.AreEqual((500L, true), (capped.More, capped.MoreIsLowerBound));
    }

    [TestMethod]
    public async Task TheCli_PrintsAPage_SaysHowManyMore_AndTheNextPagesCommand_WhichWorks()
    {
        var (query, error) = ModelsCommand.Query(Tenant, "m-", null, 100, null);
        Assert.IsNull(error);
        var text = await ModelsCommand.RunAsync(Listing, query!, json: false, CancellationToken.None);
        Assert.AreEqual(100, text.Split('\n').Count(l => l.Contains("│ paging ", StringComparison.Ordinal)), text);
        StringAssert.Contains(text, "100 versions shown, output cut: 2,400 more. Next page: tools/serverless models --tenant paging --prefix m- --after paging~m-00099/1");

        var (next, nextError) = ModelsCommand.Query(Tenant, "m-", null, 100, "paging~m-00099/1");
        Assert.IsNull(nextError);
        var json = JsonNode.Parse(await ModelsCommand.RunAsync(Listing, next!, json: true, CancellationToken.None))!;
        Assert.AreEqual(100, json["rows"]!.AsArray().Count);
        Assert.AreEqual("m-00100", (string?)json["rows"]![0]!["model"]);
        Assert.AreEqual(2_300, (long)json["more"]!);
        Assert.AreEqual("paging~m-00199/1", (string?)json["next"]);

        // A bare model name continues after it within --tenant.
        var (bare, _) = ModelsCommand.Query(Tenant, "m-", null, 1, "m-00099");
        var bareJson = JsonNode.Parse(await ModelsCommand.RunAsync(Listing, bare!, json: true, CancellationToken.None))!;
        Assert.AreEqual("m-00100", (string?)bareJson["rows"]![0]!["model"]);

        Assert.IsNotNull(ModelsCommand.Query(null, "m-", null, 100, null).Error, "a prefix without a tenant would scan every tenant");
        Assert.IsNotNull(ModelsCommand.Query(Tenant, null, null, 5_000, null).Error, "a page larger than a Table read");
    }

    [TestMethod]
    public async Task TheDashboard_ListsTheNewestPublishes_AndCountsTheRest_AndTheRegistryByTenant()
    {
        var census = Services.GetRequiredService<RegistryCensus>();
        Assert.IsNotNull(await census.RefreshAsync());
        var data = await Services.GetRequiredService<DashboardService>().GetAsync(5, CancellationToken.None);
        var body = JsonSerializer.SerializeToUtf8Bytes(data, DashboardJsonContext.Default.DashboardData);

        // Only the 2,500 "m-" versions were published within the week: the newest 15 are listed, newest first.
        Assert.AreEqual(15, data.Publishes.Count);
        Assert.AreEqual(Name("m", ManyModels - 1), data.Publishes[0].Model);
        CollectionAssert.AreEqual(data.Publishes.OrderByDescending(p => p.PublishedAt).ToList(), data.Publishes.ToList());
        Assert.AreEqual(ManyModels - 15, data.MorePublishes);

        var registry = data.Registry!;
        Assert.IsFalse(registry.Capped);
        Assert.AreEqual(ManyModels + OtherPrefixModels + 1 + Neighbours.Length * NeighbourModels, registry.Models);
        Assert.AreEqual(registry.Models + 4, registry.Versions, "a-multi has five versions; aliases are no versions");
        Assert.AreEqual(Enumerable.Range(0, ManyModels).Count(i => i % 10 == 0), registry.Rejected);
        Assert.AreEqual(registry.Versions, registry.Ready + registry.Rejected + registry.Retired);
        var own = registry.Tenants.Single(t => t.Tenant == Tenant);
        Assert.AreEqual(ManyModels + OtherPrefixModels + 1, own.Models);
        Assert.IsTrue(body.Length < 32 * 1024, $"the dashboard's answer is {body.Length:N0} bytes with {registry.Models:N0} models");
    }

    [TestMethod]
    public async Task ACappedCensus_SaysSo_AndCountsNoMoreThanItsCap()
    {
        using var census = new RegistryCensus(
            Storage,
            TimeProvider.System,
            Options.Create(new RegistryCensusOptions { MaxRowsPerPass = 1_000, TopTenants = 2 }),
            NullLogger<RegistryCensus>.Instance);
        using var reads = new ModelsTableReads();
        var result = await census.RefreshAsync();
        Assert.IsNotNull(result);
        Assert.IsTrue(result.Totals.Capped);
        Assert.AreEqual(1_000, result.Totals.RowsRead);
        Assert.IsTrue(result.Totals.Tenants.Count <= 2);
        // One scan read of 1,000 rows, then a point read per recent publish listed.
        Assert.IsTrue(reads.Count <= 1 + 15, $"{reads.Count} reads for a pass capped at one page");
    }

    private static string Name(string prefix, int i) => prefix + "-" + i.ToString("D5", CultureInfo.InvariantCulture);

    private static ModelVersionEntity Row(string tenant, string model, string version, string state, DateTimeOffset publishedAt) => new()
    {
        PartitionKey = ModelNames.ModelKey(tenant, model),
        RowKey = version,
        Tenant = tenant,
        Model = model,
        Version = version,
        State = state,
        Error = state == ModelStates.Rejected ? "not a model" : "",
        SizeBytes = 1_000,
        Sha256 = new string('0', 64),
        PublishedAt = publishedAt,
    };

    /// <summary>This process's Table reads of <c>models</c> while it lives (<see cref="StorageReadCounter"/>).</summary>
    private sealed class ModelsTableReads : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public ModelsTableReads()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == StorageReadCounter.MeterName && instrument.Name == "serverless.storage.reads")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "table" && (string?)tag.Value == StorageNames.ModelsTable)
                    {
                        Interlocked.Add(ref _count, value);
                    }
                }
            });
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }
}
