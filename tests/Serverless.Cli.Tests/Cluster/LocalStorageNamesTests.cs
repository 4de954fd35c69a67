using Serverless.Core.Storage;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>
/// The local cluster creates every table and container the code names (<see cref="StorageNames"/>, the lists the
/// Bicep is checked against in the infra tests), and none but those and the Functions host's own (the local host's
/// blob-trigger receipts), read back from Azurite.
/// </summary>
[TestClass]
public sealed class LocalStorageNamesTests
{
    /// <summary>What the local host makes as the Functions host would (blob-trigger receipts), beside the code's names.</summary>
    private static readonly string[] FunctionsHostNames = ["azure-webjobs-hosts", "azure-webjobs-secrets"];

    [TestMethod]
    [Timeout(30_000)]
    public async Task TheLocalClusterCreatesEveryTableAndContainerTheCodeNames_AndNoOther()
    {
        var storage = SharedCluster.Instance.Storage;
        var tables = new List<string>();
        await foreach (var table in storage.Tables.QueryAsync())
        {
            tables.Add(table.Name);
        }

        var containers = new List<string>();
        await foreach (var container in storage.Blobs.GetBlobContainersAsync())
        {
            containers.Add(container.Name);
        }

        // The local host's blob-trigger receipts (BlobTriggerListener.ReceiptsTable): the Functions host's own, as its container is.
        CollectionAssert.AreEquivalent(StorageNames.Tables.Append("azurewebjobsreceipts").ToArray(), tables.ToArray(), $"tables in Azurite: {string.Join(", ", tables)}");
        var missing = StorageNames.Containers.Except(containers, StringComparer.Ordinal).ToArray();
        Assert.AreEqual(0, missing.Length, $"containers the code names and the local cluster did not create: {string.Join(", ", missing)}");
        var extra = containers.Except(StorageNames.Containers, StringComparer.Ordinal).Except(FunctionsHostNames, StringComparer.Ordinal).ToArray();
        Assert.AreEqual(0, extra.Length, $"containers in Azurite that neither the code nor the Functions host names: {string.Join(", ", extra)}");
    }
}
