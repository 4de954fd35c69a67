using System.Text.Json;
using Serverless.Cli.Simulation;
using Serverless.Core.Placement;

namespace Serverless.Cli.Tests.Simulation;

/// <summary>The invariants of placement on a small synthetic fleet, through the real placement code; no cluster.</summary>
[TestClass]
public sealed class FleetSimulatorTests
{
    private static SimulationOptions Small => new()
    {
        Models = 20_000,
        Tenants = 2_000,
        Shards = 16,
        K = 3,
        Replicas = 1,
        Zipf = 1.1,
        Rps = 100_000,
        CacheModels = 200,
        CacheRequests = 50_000,
        RequestsPerReplica = 1_000,
        MaxReplicas = 8,
        BlastSample = 500,
        Seed = 42,
    };

    [TestMethod]
    [DataRow(1, DisplayName = "R = 1")]
    [DataRow(2, DisplayName = "R = 2")]
    [DataRow(3, DisplayName = "R = k")]
    public void EveryModel_IsOnRDistinctShards_InsideItsTenantsShuffleShard(int replicas)
    {
        var options = Small with { Models = 5_000, Tenants = 500, Shards = 12, Replicas = replicas };
        var simulator = new FleetSimulator(options);
        var ids = FleetSimulator.ShardIds(options.Shards);

        var map = simulator.Place(ids, ids);

        for (var m = 0; m < options.Models; m++)
        {
            var placed = map.ReplicasOf(m).ToArray();
            var shuffleShard = RendezvousPlacement.Top(RendezvousPlacement.TenantKey(simulator.TenantNameOf(m)), ids, options.K);
            Assert.AreEqual(replicas, placed.Length, simulator.ModelKeyOf(m));
            Assert.AreEqual(replicas, placed.Distinct().Count(), simulator.ModelKeyOf(m));
            foreach (var shard in placed)
            {
                CollectionAssert.Contains(shuffleShard, ids[shard], simulator.ModelKeyOf(m));
            }
        }
    }

    [TestMethod]
    public void ScaledOutModels_FillTheShuffleShardFirst_ThenDistinctShardsBeyondIt()
    {
        var options = Small with { Models = 2_000, Tenants = 200, Shards = 12 };
        var simulator = new FleetSimulator(options);
        var ids = FleetSimulator.ShardIds(options.Shards);
        var replicas = Enumerable.Repeat(6, options.Models).ToArray();

        var map = simulator.Place(ids, ids, replicas);

        for (var m = 0; m < options.Models; m++)
        {
            var placed = map.ReplicasOf(m).ToArray().Select(s => ids[s]).ToArray();
            var shuffleShard = RendezvousPlacement.Top(RendezvousPlacement.TenantKey(simulator.TenantNameOf(m)), ids, options.K);
            Assert.AreEqual(6, placed.Distinct().Count());
            CollectionAssert.AreEquivalent(shuffleShard, placed[..options.K]);
            Assert.IsFalse(placed[options.K..].Any(shuffleShard.Contains));
        }
    }

    [TestMethod]
    public void ShardLoad_SumsToTheTotalRate_BeforeAndAfterScaling()
    {
        var options = Small;
        var simulator = new FleetSimulator(options);
        var ids = FleetSimulator.ShardIds(options.Shards);

        var before = simulator.ShardLoad(simulator.Place(ids, ids), ids.Length).Sum();
        var after = simulator.ShardLoad(simulator.Place(ids, ids, simulator.ScaledReplicas()), ids.Length).Sum();

        Assert.AreEqual(options.Rps, simulator.ModelRps.Sum(), options.Rps * 1e-9);
        Assert.AreEqual(options.Rps, before, options.Rps * 1e-9);
        Assert.AreEqual(options.Rps, after, options.Rps * 1e-9);
    }

    [TestMethod]
    public void AddingAShard_MovesAtMost1point5OverN_OntoTheNewShardOrOffTheShardItDisplaced()
    {
        var options = Small with { Models = 50_000, Tenants = 5_000 };
        var n = options.Shards;
        var simulator = new FleetSimulator(options);
        var all = FleetSimulator.ShardIds(n + 1);
        var before = simulator.Place(all[..n], all);
        var after = simulator.Place(all, all);
        var shuffleAfter = simulator.ShuffleShards(all, all);

        var moved = 0;
        var ontoNew = 0;
        for (var m = 0; m < options.Models; m++)
        {
            var old = before.ReplicasOf(m);
            var now = after.ReplicasOf(m);
            if (ReplicaMap.SameSet(old, now))
            {
                continue;
            }

            moved++;
            if (now.Contains(n))
            {
                ontoNew++;
                continue;
            }

            // Not onto the new shard: then the new shard displaced one of its old replicas from the tenant's shuffle shard.
            var tenantShards = shuffleAfter[simulator.TenantOf(m)];
            Assert.IsTrue(old.ToArray().Any(s => !tenantShards.Contains(s)), $"{simulator.ModelKeyOf(m)} moved between shards that both stayed in its shuffle shard");
            CollectionAssert.Contains(tenantShards, n, $"{simulator.ModelKeyOf(m)} moved though its tenant did not get the new shard");
        }

        var share = (double)moved / options.Models;
        Assert.IsLessThanOrEqualTo(1.5 / n, share, $"moved {share:P2}");
        Assert.AreEqual(FleetSimulator.ExpectedMovedShare(added: true, n, options.K, 1)!.Value, share, 0.15 * share);
        Assert.IsGreaterThan(moved / 2, ontoNew, "most moves go onto the new shard");

        var stats = simulator.Movement("add", before, after, n, added: true, simulator.ShuffleShards(all[..n], all), shuffleAfter, n, n + 1);
        Assert.AreEqual(moved, stats.Moved);
        Assert.AreEqual(ontoNew, stats.Direct);
        Assert.AreEqual(0, stats.Unexplained);
    }

    [TestMethod]
    public void WithoutShuffleSharding_AddingAShard_MovesOnlyOntoTheNewShard_AboutOneOverN()
    {
        var options = Small with { K = 64 };
        var n = options.Shards;
        var simulator = new FleetSimulator(options);
        var all = FleetSimulator.ShardIds(n + 1);
        var before = simulator.Place(all[..n], all);
        var after = simulator.Place(all, all);

        var stats = simulator.Movement("add", before, after, n, added: true, simulator.ShuffleShards(all[..n], all), simulator.ShuffleShards(all, all), n, n + 1);

        Assert.AreEqual(stats.Moved, stats.Direct, "every moved model moved onto the new shard");
        Assert.AreEqual(1.0 / (n + 1), stats.MovedShare, 0.15 / (n + 1));
    }

    [TestMethod]
    public void RemovingAShard_MovesEveryModelOnIt_AndOtherwiseOnlyModelsOfTenantsThatLostIt()
    {
        var options = Small with { Models = 50_000, Tenants = 5_000, Replicas = 2 };
        var n = options.Shards;
        var simulator = new FleetSimulator(options);
        var all = FleetSimulator.ShardIds(n);
        var before = simulator.Place(all, all);
        var after = simulator.Place(all[..(n - 1)], all);
        var onRemoved = Enumerable.Range(0, options.Models).Count(m => before.ReplicasOf(m).Contains(n - 1));

        var stats = simulator.Movement("remove", before, after, n - 1, added: false, simulator.ShuffleShards(all, all), simulator.ShuffleShards(all[..(n - 1)], all), n, n - 1);

        Assert.AreEqual(onRemoved, stats.Direct);
        Assert.AreEqual(0, stats.Unexplained);
        Assert.IsFalse(Enumerable.Range(0, options.Models).Any(m => after.ReplicasOf(m).Contains(n - 1)));
        Assert.AreEqual(FleetSimulator.ExpectedMovedShare(added: false, n, options.K, options.Replicas)!.Value, stats.MovedShare, 0.15 * stats.MovedShare);
    }

    [TestMethod]
    public void PerModelScaling_LowersTheHottestShard_ForAZipfWorkload()
    {
        var report = new FleetSimulator(Small).Run();

        Assert.IsGreaterThan(0, report.Scaling.ScaledModels);
        Assert.IsLessThan(report.LoadBefore.Max, report.LoadAfter.Max);
        Assert.IsLessThan(report.Scaling.HottestShardBeforeRps, report.Scaling.HottestShardAfterRps);
        Assert.AreEqual(report.LoadBefore.Mean, report.LoadAfter.Mean, report.LoadBefore.Mean * 1e-9);
        Assert.AreEqual(Small.MaxReplicas, report.Scaling.HottestModelReplicas);
    }

    [TestMethod]
    public void Run_IsDeterministic_ForAFixedSeed()
    {
        var options = Small with { Models = 10_000, Tenants = 1_000 };

        var first = Json(new FleetSimulator(options).Run());
        var second = Json(new FleetSimulator(options).Run());
        var otherSeed = Json(new FleetSimulator(options with { Seed = 7 }).Run());

        Assert.AreEqual(first, second);
        Assert.AreNotEqual(first, otherSeed);
    }

    [TestMethod]
    public void BlastRadius_MatchesTheArithmetic()
    {
        // N = 10, k = 3: C(10,3) = 120, so a tenant shares all k shards with 1/120 of the others and at least one with 1 - 35/120.
        var options = Small with { Models = 3_000, Tenants = 3_000, Shards = 10, BlastSample = 3_000 };
        var simulator = new FleetSimulator(options);
        var ids = FleetSimulator.ShardIds(options.Shards);

        var stats = simulator.BlastRadius(simulator.ShuffleShards(ids, ids), options.Shards);

        Assert.AreEqual(120, stats.Combinations);
        Assert.AreEqual(1.0 / 120, stats.ExpectedFullCover, 1e-12);
        Assert.AreEqual(1 - (35.0 / 120), stats.ExpectedOverlapAny, 1e-12);
        Assert.AreEqual(stats.ExpectedFullCover, stats.FullCoverMean, 0.15 * stats.ExpectedFullCover);
        Assert.AreEqual(stats.ExpectedOverlapAny, stats.OverlapAnyMean, 0.03);
        Assert.IsLessThanOrEqualTo(stats.OverlapAnyMax, stats.FullCoverMax);
    }

    [TestMethod]
    public void Arithmetic_ForTheIssuesFleet()
    {
        Assert.AreEqual(41_664, FleetSimulator.Combinations(64, 3));
        Assert.AreEqual(1.5 / 65, FleetSimulator.ExpectedMovedShare(added: true, 64, 3, 1)!.Value, 1e-12);
        Assert.AreEqual(1.5 / 64, FleetSimulator.ExpectedMovedShare(added: false, 64, 3, 1)!.Value, 1e-12);
        Assert.AreEqual(1.0 / 65, FleetSimulator.ExpectedMovedShare(added: true, 64, 65, 1)!.Value, 1e-12);
        Assert.IsNull(FleetSimulator.ExpectedMovedShare(added: true, 64, 3, 4));
    }

    [TestMethod]
    public void Cache_HitRateGrowsWithCacheSize()
    {
        var options = Small;
        var ids = FleetSimulator.ShardIds(options.Shards);
        var small = new FleetSimulator(options with { CacheModels = 20 });
        var large = new FleetSimulator(options with { CacheModels = 2_000 });

        var smallStats = small.Cache(small.Place(ids, ids), ids.Length);
        var largeStats = large.Cache(large.Place(ids, ids), ids.Length);

        Assert.IsGreaterThan(smallStats.HitRate, largeStats.HitRate);
        Assert.IsTrue(smallStats.HitRatePerShard.Min >= 0 && largeStats.HitRatePerShard.Max <= 1);
        Assert.AreEqual(options.CacheRequests, smallStats.Requests);
    }

    [TestMethod]
    public void Lru_EvictsTheLeastRecentlyUsed()
    {
        var cache = new LruCacheModel(2);

        Assert.IsFalse(cache.Access(1));
        Assert.IsFalse(cache.Access(2));
        Assert.IsTrue(cache.Access(1));
        Assert.IsFalse(cache.Access(3)); // evicts 2, the least recent
        Assert.IsTrue(cache.Contains(1));
        Assert.IsFalse(cache.Contains(2));
        Assert.IsTrue(cache.Contains(3));
        Assert.AreEqual(2, cache.Count);
    }

    [TestMethod]
    public void Zipf_ProbabilitiesSumToOne_AndSamplesFollowThem()
    {
        var zipf = new ZipfSampler(1_000, 1.1);
        var random = new Random(1);
        var counts = new int[zipf.Count];
        for (var i = 0; i < 200_000; i++)
        {
            counts[zipf.Sample(random)]++;
        }

        Assert.AreEqual(1.0, zipf.Probabilities.Sum(), 1e-9);
        Assert.AreEqual(Math.Pow(2, 1.1), zipf.Probabilities[0] / zipf.Probabilities[1], 1e-9);
        Assert.AreEqual(zipf.Probabilities[0], counts[0] / 200_000.0, 0.005);
    }

    [TestMethod]
    public void Svg_HasABarPerShardAndPhase_AxesAndLegend()
    {
        var svg = SvgPlot.Render(["shard-00", "shard-01"], [30, 10], [20, 20], "title <x>", "subtitle");

        Assert.AreEqual(4, svg.Split("<rect x=").Length - 1 - 3, "two bars per shard besides the legend's three rects");
        StringAssert.Contains(svg, "title &lt;x&gt;");
        StringAssert.Contains(svg, "before per-model scaling (max/mean 1.50)");
        StringAssert.Contains(svg, "after per-model scaling (max/mean 1.00)");
        StringAssert.Contains(svg, "requests per second");
    }

    private static string Json(SimulationReport report) => JsonSerializer.Serialize(report with { Timings = [], TotalSeconds = 0 });
}
