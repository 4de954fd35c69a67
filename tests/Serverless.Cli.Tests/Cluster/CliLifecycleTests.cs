using System.Diagnostics;
using System.Text;
using Serverless.Cli.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>
/// The real CLI against the shared cluster (a SERVERLESS_HOME of its own holding a copy of the cluster's
/// local.json): publish a folder, alias, retire, delete, models.
/// </summary>
[TestClass]
public sealed class CliLifecycleTests
{
    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    [Timeout(240_000)]
    public async Task PublishFolder_Alias_Retire_Delete_ThroughTheCli()
    {
        var home = Path.Combine(Path.GetTempPath(), "serverless-cli-life-" + Guid.NewGuid().ToString("N")[..8]);
        var folder = Path.Combine(home, "models");
        try
        {
            new StateDirectory(home).Write(Cluster.State);
            Directory.CreateDirectory(Path.Combine(folder, "clilife-b"));
            await File.WriteAllBytesAsync(Path.Combine(folder, "clilife-a.onnx"), DemoModels.Linear());
            await File.WriteAllBytesAsync(Path.Combine(folder, "clilife-b", "model.onnx"), DemoModels.TwoInputs());
            await File.WriteAllTextAsync(Path.Combine(folder, "clilife-b", "model.json"), """{"description":"two"}""");
            await File.WriteAllTextAsync(Path.Combine(folder, "clilife-c.onnx"), "this is junk, not a model");

            var publish = await RunCliAsync(home, "publish", folder);
            Assert.AreEqual(1, publish.ExitCode, publish.Output);
            StringAssert.Contains(publish.Output, "2 ready, 1 rejected");
            StringAssert.Contains(publish.Output, "Ready: clilife-a version 1");
            StringAssert.Contains(publish.Output, "Ready: clilife-b version 1");
            StringAssert.Contains(publish.Output, "Rejected: clilife-c version 1: not a loadable ONNX model");
            var b = await Cluster.Registry.GetAsync("demo", "clilife-b", "1", CancellationToken.None);
            Assert.AreEqual("two", b?.Description, "b/model.json was dropped with b/model.onnx");

            var alias = await RunCliAsync(home, "alias", "clilife-a", "production", "1");
            Assert.AreEqual(0, alias.ExitCode, alias.Output);
            StringAssert.Contains(alias.Output, "alias 'production' (new) -> 1");
            StringAssert.Contains(alias.Output, "warm-up");
            StringAssert.Contains(alias.Output, "loaded");

            var retire = await RunCliAsync(home, "retire", "clilife-a", "1");
            Assert.AreEqual(1, retire.ExitCode, retire.Output);
            StringAssert.Contains(retire.Output, "error:");
            StringAssert.Contains(retire.Output, "alias 'production'");
            Assert.AreEqual(ModelStates.Ready, (await Cluster.Registry.GetAsync("demo", "clilife-a", "1", CancellationToken.None))?.State);

            var badAlias = await RunCliAsync(home, "alias", "clilife-a", "Bad Alias", "1");
            Assert.AreEqual(2, badAlias.ExitCode, badAlias.Output);
            StringAssert.Contains(badAlias.Output, "alias 'Bad Alias' is not valid");

            var delete = await RunCliAsync(home, "delete", "clilife-b", "1");
            Assert.AreEqual(0, delete.ExitCode, delete.Output);
            StringAssert.Contains(delete.Output, "deleted");

            // By prefix: the shared cluster's demo tenant has other tests' models too, more than a page of them in a full run.
            var models = await RunCliAsync(home, "models", "--tenant", "demo", "--prefix", "clilife-");
            Assert.AreEqual(0, models.ExitCode, models.Output);
            StringAssert.Contains(models.Output, "clilife-a");
            StringAssert.Contains(models.Output, "clilife-c");
            Assert.IsFalse(models.Output.Contains("clilife-b", StringComparison.Ordinal), models.Output);
            Assert.IsFalse((await Cluster.Registry.ListAsync("demo", CancellationToken.None)).Any(r => r.Model == "clilife-b"));
            Assert.IsTrue(Cluster.AllProcessesAlive(), "the CLI left the shared cluster running");
        }
        finally
        {
            // Only this test's folder (a copy of local.json): the shared cluster's own state stays.
            try
            {
                Directory.Delete(home, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static Task<(int ExitCode, string Output)> RunCliAsync(string home, params string[] args) => CliProcess.RunAsync(home, args);
}
