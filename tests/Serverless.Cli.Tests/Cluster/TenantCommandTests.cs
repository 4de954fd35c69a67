using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Serverless.Cli.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>
/// <c>serverless tenant add|list|rotate-key</c> against the shared cluster, from a SERVERLESS_HOME of its own
/// holding a copy of the cluster's local.json (never up/down there).
/// </summary>
[TestClass]
public sealed partial class TenantCommandTests
{
    private const string Json = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    [Timeout(180_000)]
    public async Task Add_List_RotateKey_ThroughTheCli()
    {
        var home = Path.Combine(Path.GetTempPath(), "serverless-cli-tenant-" + Guid.NewGuid().ToString("N")[..8]);
        var tenant = "tc-" + Guid.NewGuid().ToString("N")[..6];
        try
        {
            new StateDirectory(home).Write(Cluster.State);

            var add = await RunCliAsync(home, "tenant", "add", tenant, "--k", "1", "--rps", "50");
            Assert.AreEqual(0, add.ExitCode, add.Output);
            var key = KeyIn(add.Output);
            StringAssert.StartsWith(key, tenant + ".");
            StringAssert.Contains(add.Output, "shown once");
            var recorded = new StateDirectory(home).Read()!.Tenants.Single(t => t.Name == tenant);
            Assert.AreEqual(key, recorded.ApiKey, "add records the key in that home's local.json");
            Assert.IsTrue(new StateDirectory(home).Read()!.Tenants.Any(t => t.Name == "demo"), "the rest of local.json is kept");

            Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync(tenant, "tc-model", "1", DemoModels.Linear())).State);
            var (first, firstBody, _) = await Cluster.InferAsync(key, "tc-model", Json);
            Assert.AreEqual(200, first, firstBody?.ToJsonString());

            var again = await RunCliAsync(home, "tenant", "add", tenant);
            Assert.AreEqual(1, again.ExitCode, again.Output);
            StringAssert.Contains(again.Output, "exists already");

            var bad = await RunCliAsync(home, "tenant", "add", "Bad Name");
            Assert.AreEqual(2, bad.ExitCode, bad.Output);

            var list = await RunCliAsync(home, "tenant", "list");
            Assert.AreEqual(0, list.ExitCode, list.Output);
            var row = list.Output.Split('\n').SingleOrDefault(line => line.Contains(tenant, StringComparison.Ordinal));
            Assert.IsNotNull(row, list.Output);
            StringAssert.Contains(row, "50");
            Assert.IsFalse(list.Output.Contains(key, StringComparison.Ordinal), "list never shows a key");

            var rotate = await RunCliAsync(home, "tenant", "rotate-key", tenant);
            Assert.AreEqual(0, rotate.ExitCode, rotate.Output);
            var newKey = KeyIn(rotate.Output);
            Assert.AreNotEqual(key, newKey);
            Assert.AreEqual(newKey, new StateDirectory(home).Read()!.Tenants.Single(t => t.Name == tenant).ApiKey);

            // The router caches tenant rows for 15 s: within a bound, the old key stops and the new one works.
            var deadline = Stopwatch.StartNew();
            int oldStatus, newStatus;
            do
            {
                await Task.Delay(500);
                oldStatus = (await Cluster.InferAsync(key, "tc-model", Json)).Status;
                newStatus = (await Cluster.InferAsync(newKey, "tc-model", Json)).Status;
            }
            while ((oldStatus != 401 || newStatus != 200) && deadline.Elapsed < TimeSpan.FromSeconds(30));

            Assert.AreEqual(401, oldStatus, "the old key is refused after rotate-key");
            Assert.AreEqual(200, newStatus, "the new key works after rotate-key");

            var missing = await RunCliAsync(home, "tenant", "rotate-key", "no-such-tenant-" + Guid.NewGuid().ToString("N")[..6]);
            Assert.AreEqual(1, missing.ExitCode, missing.Output);
            StringAssert.Contains(missing.Output, "no tenant");
            Assert.IsTrue(Cluster.AllProcessesAlive());
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

    private static string KeyIn(string output)
    {
        var match = KeyLine().Match(output);
        Assert.IsTrue(match.Success, output);
        return match.Groups[1].Value;
    }

    [GeneratedRegex(@"API key: (\S+)")]
    private static partial Regex KeyLine();

    private static Task<(int ExitCode, string Output)> RunCliAsync(string home, params string[] args) => CliProcess.RunAsync(home, args);
}
