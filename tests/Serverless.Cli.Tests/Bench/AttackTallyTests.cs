using System.Text.Json;
using Serverless.Cli.Bench;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;

namespace Serverless.Cli.Tests.Bench;

/// <summary>
/// The hostile bench's attacker runs in a process of its own and reports its tally as JSON; the bench adds each
/// round's report to its own tally. Nothing may be lost or double-counted on the way.
/// </summary>
[TestClass]
public sealed class AttackTallyTests
{
    [TestMethod]
    public void ARoundsTally_ThroughItsJsonReport_AddsUpInTheBenchsTally()
    {
        var round = new AttackTally();
        round.Expect("shape bomb", 400);
        round.Expect("made-up name", 404);
        round.Record("shape bomb", 400);
        round.Record("shape bomb", 400);
        round.Record("shape bomb", 503);
        round.Record("made-up name", 0);
        var report = new AttackReport(round.Snapshot(), [1.5, 2.5], [5.1]);
        var json = JsonSerializer.Serialize(report, CliJsonContext.Default.AttackReport);
        var back = JsonSerializer.Deserialize(json, CliJsonContext.Default.AttackReport)!;

        var bench = new AttackTally();
        foreach (var kind in back.Kinds)
        {
            bench.Add(kind);
        }

        foreach (var kind in back.Kinds)
        {
            bench.Add(kind);
        }

        Assert.AreEqual(8, bench.Total, "two rounds of four answers");
        Assert.AreEqual(4, bench.Unexpected, "a 503 and a lost answer per round");
        var lines = bench.Lines().ToDictionary(l => l.Kind, l => l.Line);
        Assert.AreEqual("6 sent, 4 × 400, 2 × 503", lines["shape bomb"]);
        Assert.AreEqual("2 sent, 0 × 404, 2 × no answer", lines["made-up name"]);
        CollectionAssert.AreEqual(new[] { "shape bomb", "made-up name" }, lines.Keys.ToArray(), "report order kept");
        CollectionAssert.AreEqual(new[] { 1.5, 2.5 }, back.LatenciesMs);
    }

    [TestMethod]
    [Timeout(60_000)]
    public async Task TheAttacker_RefusesARouterOffThisMachine()
    {
        var home = Path.Combine(Path.GetTempPath(), "serverless-attack-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(home);
        try
        {
            var (exit, output) = await CliProcess.RunAsync(
                home,
                ["bench-attack", "--router", "http://203.0.113.7/", "--tenant", "t", "--key", "t.k", "--run-id", "x", "--report", Path.Combine(home, "r.json")],
                timeoutSeconds: 50);
            Assert.AreEqual(2, exit, output);
            StringAssert.Contains(output, "not an absolute loopback address");
            Assert.IsFalse(File.Exists(Path.Combine(home, "r.json")));
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }
}
