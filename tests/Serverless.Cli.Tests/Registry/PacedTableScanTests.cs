using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Storage;

namespace Serverless.Cli.Tests.Registry;

/// <summary>
/// The paced scan (issue 17) that the name sets' full reads and the publisher's usage count use: every row of a query of
/// many pages, in order, with its own timeout for each page. Against an Azurite of its own.
/// </summary>
[TestClass]
public sealed class PacedTableScanTests
{
    private static AzuriteProcesses? s_azurite;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        s_azurite = await TestAzurite.StartAsync("paced");
    }

    [ClassCleanup]
    public static void Stop() => s_azurite?.Kill();

    [TestMethod]
    public async Task AQueryOfSeveralPages_IsReadWhole_InKeyOrder()
    {
        var storage = new StorageClients(Options.Create(new StorageOptions { ConnectionString = s_azurite!.ConnectionString }));
        var table = storage.Tables.GetTableClient("pacedscan");
        await table.CreateIfNotExistsAsync();
        const int Rows = 2_300;
        for (var start = 0; start < Rows; start += 100)
        {
            // A partition per 100 rows: a transaction is one partition's.
            var batch = new List<TableTransactionAction>();
            for (var i = start; i < start + 100; i++)
            {
                batch.Add(new TableTransactionAction(TableTransactionActionType.Add, new TableEntity($"p{start:00000}", $"r{i:00000}")));
            }

            await table.SubmitTransactionAsync(batch);
        }

        // At most 1,000 a page: three pages, the second and third read after a pause, with continuation tokens.
        var seen = new List<string>();
        await foreach (var row in PacedTableScan.ReadAsync(token => table.QueryAsync<TableEntity>(maxPerPage: 1_000, cancellationToken: token), TimeProvider.System, CancellationToken.None))
        {
            seen.Add(row.RowKey);
        }

        Assert.AreEqual(Rows, seen.Count, "every row of every page");
        CollectionAssert.AreEqual(seen.Order(StringComparer.Ordinal).ToList(), seen, "in key order, no page twice");
    }
}
