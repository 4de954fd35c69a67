using System.Text.Json.Nodes;
using Serverless.Cli.Tests.Cluster;

namespace Serverless.Cli.Tests.Bench;

/// <summary>
/// <c>serverless bench</c> end to end, short: it starts its own cluster (no running one in the temporary state
/// folder), measures, writes its JSON and plot, and stops what it started. Its figures are not checked here
/// (timing targets live in the benchmark itself), only that each scenario measured what it says.
/// </summary>
[TestClass]
public sealed class BenchCommandTests
{
    [TestMethod]
    [Timeout(300_000)]
    public async Task Bench_FloorIsolationAndCold_WritesAReportWhoseRowsHoldUp()
    {
        var home = Path.Combine(Path.GetTempPath(), "serverless-bench-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(home);
        try
        {
            var json = Path.Combine(home, "bench.json");
            var plot = Path.Combine(home, "bench.svg");
            var (exit, output) = await CliProcess.RunAsync(
                home,
                ["bench", "--scenario", "floor-http,isolation,cold", "--duration", "1", "--warmup", "1", "--connections", "4", "--cold-models", "2", "--json", json, "--plot", plot],
                timeoutSeconds: 240);

            Assert.AreEqual(0, exit, output);
            var report = JsonNode.Parse(await File.ReadAllTextAsync(json))!;
            var results = report["Results"]!.AsArray().ToDictionary(r => (string)r!["Id"]!, r => r!);
            CollectionAssert.IsSubsetOf(new[] { "floor-http-1hop", "floor-http-2hop", "isolation-alone", "isolation-flood", "isolation-noisy", "cold", "cold-disk" }, results.Keys.ToArray(), output);

            Assert.IsTrue((double)results["floor-http-1hop"]["Throughput"]! > 0);
            Assert.AreEqual(0L, (long)results["isolation-alone"]["Errors"]!, "the quiet tenant alone: every request answered");
            Assert.AreEqual(0L, (long)results["isolation-flood"]["Errors"]!, "the quiet tenant during the flood: every request answered");
            Assert.IsTrue((long)results["isolation-noisy"]["Errors"]! > 0, "the flooding tenant was refused over its quota");
            Assert.IsTrue((double)results["isolation-noisy"]["Throughput"]! > 0, "and answered within it");
            StringAssert.Contains(output, "quiet tenant's p99 while a neighbour floods");
            Assert.AreEqual("blob 2", (string?)results["cold"]["Notes"]!["x-load-source"], "fresh models come from Blob");
            Assert.AreEqual("disk 2", (string?)results["cold-disk"]["Notes"]!["x-load-source"], "unloaded models come back from the disk tier");
            StringAssert.Contains(output, "cold load of a 1 MB model from the disk tier");
            StringAssert.StartsWith(await File.ReadAllTextAsync(plot), "<svg");
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }
}
