using System.Text.Json.Nodes;
using Serverless.Cli.Cluster;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>
/// <c>serverless fsck</c> and <c>serverless audit</c> as an operator runs them, against a cluster of their own (a clean
/// registry): a consistent cluster has no findings; a deleted blob, a dangling alias and an orphaned blob are found,
/// the first two repaired (the blob from the drop, the alias removed), the young orphan left with the reason; the
/// repairs and a lifecycle command are in the audit log.
/// </summary>
[TestClass]
public sealed class FsckTests
{
    [TestMethod]
    [Timeout(300_000)]
    public async Task Fsck_FindsAndRepairs_AndTheAuditLogShowsWhoDidWhat()
    {
        await using var cluster = await TestCluster.StartAsync(1);
        var home = Path.Combine(Path.GetTempPath(), "serverless-fsck-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            new StateDirectory(home).Write(cluster.State);
            Assert.AreEqual(ModelStates.Ready, (await cluster.PublishAsync("demo", "fsck-a", "1", DemoModels.Linear())).State);
            Assert.AreEqual(ModelStates.Ready, (await cluster.PublishAsync("demo", "fsck-a", "2", DemoModels.TwoInputs())).State);

            var clean = await CliProcess.RunAsync(home, ["fsck", "--json"]);
            Assert.AreEqual(0, clean.ExitCode, clean.Output);
            Assert.AreEqual(0, Findings(clean.Output).Count, clean.Output);

            var alias = await CliProcess.RunAsync(home, ["alias", "fsck-a", "production", "2", "--no-warm"]);
            Assert.AreEqual(0, alias.ExitCode, alias.Output);

            var v1 = (await cluster.Registry.GetAsync("demo", "fsck-a", "1", CancellationToken.None))!;
            await cluster.Storage.Models.DeleteBlobAsync(v1.BlobName);
            await cluster.Storage.ModelsTable.UpsertEntityAsync(new ModelVersionEntity
            {
                PartitionKey = ModelNames.ModelKey("demo", "fsck-a"),
                RowKey = ModelVersionEntity.AliasPrefix + "staging",
                Tenant = "demo",
                Model = "fsck-a",
                Version = "9",
            });
            await cluster.Storage.Models.GetBlobClient("demo/ghost/1/0123.onnx").UploadAsync(new BinaryData(DemoModels.Linear()));

            var found = await CliProcess.RunAsync(home, ["fsck", "--json"]);
            Assert.AreEqual(1, found.ExitCode, found.Output);
            var findings = Findings(found.Output);
            Assert.AreEqual(3, findings.Count, found.Output);
            Assert.AreEqual("RowWithoutBlob", findings["demo/fsck-a/1"]);
            Assert.AreEqual("DanglingAlias", findings["demo/fsck-a@staging"]);
            Assert.AreEqual("BlobWithoutRow", findings["demo/ghost/1/0123.onnx"]);

            var repaired = await CliProcess.RunAsync(home, ["fsck", "--repair"]);
            Assert.AreEqual(1, repaired.ExitCode, "the young orphan is left, so something is still wrong: " + repaired.Output);
            StringAssert.Contains(repaired.Output, "restored from the drop");
            StringAssert.Contains(repaired.Output, "alias removed");
            StringAssert.Contains(repaired.Output, "publish under way");
            Assert.IsTrue((await cluster.Storage.Models.GetBlobClient(v1.BlobName).ExistsAsync()).Value, "v1's bytes are back");
            cluster.Registry.Invalidate("demo", "fsck-a");
            Assert.IsFalse((await cluster.Registry.GetRowsAsync("demo", "fsck-a", CancellationToken.None)).Any(r => r.RowKey == "@staging"), "the dangling alias is gone");

            var after = await CliProcess.RunAsync(home, ["fsck", "--json"]);
            CollectionAssert.AreEquivalent(new[] { "demo/ghost/1/0123.onnx" }, Findings(after.Output).Keys.ToArray(), after.Output);

            await Task.Delay(TimeSpan.FromSeconds(2.5)); // the router caches registry rows for 2 s
            var (status, body, _) = await cluster.InferAsync(cluster.DemoKey, "fsck-a", """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""", version: "1");
            Assert.AreEqual(200, status, "the restored version serves: " + body?.ToJsonString());

            var audit = await CliProcess.RunAsync(home, ["audit", "--since", "1h"]);
            Assert.AreEqual(0, audit.ExitCode, audit.Output);
            StringAssert.Contains(audit.Output, "fsck-repair");
            StringAssert.Contains(audit.Output, "demo/fsck-a@staging");
            StringAssert.Contains(audit.Output, "demo/fsck-a@production");
            StringAssert.Contains(audit.Output, Environment.UserName);
        }
        finally
        {
            try
            {
                Directory.Delete(home, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>fsck --json's findings by subject: their kind.</summary>
    private static Dictionary<string, string> Findings(string output)
    {
        var start = output.IndexOf('[', StringComparison.Ordinal);
        var array = JsonNode.Parse(output[start..])!.AsArray();
        return array.ToDictionary(f => (string)f!["Subject"]!, f => (string)f!["Kind"]!);
    }
}
