using System.Reflection;
using System.Text.RegularExpressions;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;
using Serverless.Core.Storage;

namespace Serverless.Infra.Tests;

/// <summary>
/// Every table and blob container the code names (<see cref="StorageNames.Tables"/>, <see cref="StorageNames.Containers"/>)
/// is created by the Bicep, and the Bicep creates no other but the hosting's own, listed here. The local cluster
/// creates the same lists (<see cref="StorageClients.EnsureCreatedAsync"/>; checked against Azurite by the CLI tests'
/// <c>LocalStorageNamesTests</c>). A table the code reads that Azure lacks fails there every second (as
/// <c>registryepochs</c> did: the registry's change notification was off in Azure).
/// </summary>
[TestClass]
public sealed class StorageNamesTests
{
    /// <summary>
    /// Names that belong to the Functions host itself (its leases and blob-trigger receipts, its keys): it creates them
    /// at run time, so they need not be in the Bicep, and our code names them only in the local host that stands in for
    /// the Functions host. Allowed on one side only: in the Bicep without the code's lists, never in those lists.
    /// </summary>
    private static readonly string[] FunctionsHostNames = ["azure-webjobs-hosts", "azure-webjobs-secrets"];

    private const string TablesType = "Microsoft.Storage/storageAccounts/tableServices/tables";
    private const string ContainersType = "Microsoft.Storage/storageAccounts/blobServices/containers";

    [TestMethod]
    public void TheBicepCreatesEveryTableTheCodeNames_AndNoOther()
    {
        AssertSameBothWays("tables", StorageNames.Tables, NamesCreatedInBicep(TablesType));
        CollectionAssert.Contains(NamesCreatedInBicep(TablesType).ToList(), StorageNames.RegistryEpochsTable);
    }

    [TestMethod]
    public void TheBicepCreatesEveryContainerTheCodeNames_AndNoOther() =>
        AssertSameBothWays("containers", StorageNames.Containers, NamesCreatedInBicep(ContainersType));

    private static void AssertSameBothWays(string kind, IReadOnlyList<string> code, IReadOnlyList<string> bicep)
    {
        var missing = code.Except(bicep, StringComparer.Ordinal).ToArray();
        Assert.AreEqual(0, missing.Length, $"{kind} the code names (StorageNames) that infra/ does not create: {string.Join(", ", missing)}");
        var extra = bicep.Except(code, StringComparer.Ordinal).Except(FunctionsHostNames, StringComparer.Ordinal).ToArray();
        Assert.AreEqual(0, extra.Length, $"{kind} infra/ creates that the code does not name (add them to StorageNames, or remove them): {string.Join(", ", extra)}");
        var both = code.Intersect(FunctionsHostNames, StringComparer.Ordinal).ToArray();
        Assert.AreEqual(0, both.Length, $"{kind} of the Functions host in StorageNames: {string.Join(", ", both)}");
    }

    [TestMethod]
    public void EveryClientOfStorageClientsIsOfTheListedNames_AndEveryListedNameHasOne()
    {
        // The clients are made without a call to storage, so any connection string builds them.
        var clients = new StorageClients(Options.Create(new StorageOptions { ConnectionString = "UseDevelopmentStorage=true" }));
        var properties = typeof(StorageClients).GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var tables = properties.Where(p => p.PropertyType == typeof(TableClient)).Select(p => ((TableClient)p.GetValue(clients)!).Name).ToArray();
        var containers = properties.Where(p => p.PropertyType == typeof(BlobContainerClient)).Select(p => ((BlobContainerClient)p.GetValue(clients)!).Name).ToArray();

        CollectionAssert.AreEquivalent(StorageNames.Tables.ToArray(), tables, "StorageClients' tables are StorageNames.Tables");
        CollectionAssert.AreEquivalent(StorageNames.Containers.ToArray(), containers, "StorageClients' containers are StorageNames.Containers");
    }

    [TestMethod]
    public void TheReaderFindsLoopAndSingleResources()
    {
        // The reader below is the test's own: it must see both forms a Bicep file may use, or the checks above prove nothing.
        const string bicep = """
            var tableNames = [
              'one'
              'two'
            ]
            resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = [
              for tableName in tableNames: {
                parent: tableService
                name: tableName
              }
            ]
            resource single 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = {
              parent: tableService
              name: 'three'
            }
            resource old 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' existing = {
              name: 'not-created'
            }
            """;

        CollectionAssert.AreEquivalent(new[] { "one", "two", "three" }, NamesIn(bicep, TablesType, "test.bicep").ToArray());
    }

    /// <summary>The names of the resources of <paramref name="type"/> that the .bicep files under infra/ create.</summary>
    private static IReadOnlyList<string> NamesCreatedInBicep(string type) =>
        BicepCli.BicepFiles()
            .SelectMany(file => NamesIn(File.ReadAllText(Path.Combine(BicepCli.InfraDirectory, file)), type, file))
            .ToList();

    /// <summary>
    /// Reads the Bicep text (no build needed): a resource of <paramref name="type"/> is either one object with a literal
    /// <c>name</c>, or a loop <c>[for x in someVar: …]</c> over a <c>var someVar = [ 'a' 'b' ]</c> of literals. Any other
    /// form fails the test, so a new one is taught here rather than silently passed over. <c>existing</c> references
    /// create nothing and are skipped.
    /// </summary>
    private static IEnumerable<string> NamesIn(string bicep, string type, string file)
    {
        var declaration = new Regex(@"^resource\s+(?<symbol>\w+)\s+'" + Regex.Escape(type) + @"@[^']+'\s*(?<existing>existing\s*)?=\s*(?<rest>.*)$", RegexOptions.Multiline | RegexOptions.CultureInvariant);
        foreach (Match match in declaration.Matches(bicep))
        {
            if (match.Groups["existing"].Success)
            {
                continue;
            }

            var symbol = match.Groups["symbol"].Value;
            var body = bicep[(match.Groups["rest"].Index)..];
            var loop = Regex.Match(body, @"^\[\s*for\s+\w+\s+in\s+(?<variable>\w+)\s*:", RegexOptions.CultureInvariant);
            if (loop.Success)
            {
                var variable = loop.Groups["variable"].Value;
                var list = Regex.Match(bicep, @"^var\s+" + Regex.Escape(variable) + @"\s*=\s*\[(?<items>[^\]]*)\]", RegexOptions.Multiline | RegexOptions.CultureInvariant);
                Assert.IsTrue(list.Success, $"{file}: resource {symbol} loops over '{variable}', which is not a var list of literals this test can read");
                foreach (Match item in Regex.Matches(list.Groups["items"].Value, @"'(?<name>[^']*)'", RegexOptions.CultureInvariant))
                {
                    yield return item.Groups["name"].Value;
                }

                continue;
            }

            var name = Regex.Match(body, @"^\{(?:(?!^\}).)*?^\s*name:\s*'(?<name>[^']+)'", RegexOptions.Multiline | RegexOptions.Singleline | RegexOptions.CultureInvariant);
            Assert.IsTrue(name.Success, $"{file}: the name of resource {symbol} is neither a literal nor a loop over a var list");
            yield return name.Groups["name"].Value;
        }
    }
}
