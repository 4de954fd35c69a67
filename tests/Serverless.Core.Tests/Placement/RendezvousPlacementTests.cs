using Serverless.Core.Placement;

namespace Serverless.Core.Tests.Placement;

[TestClass]
public sealed class RendezvousPlacementTests
{
    private const int ModelCount = 300_000;
    private const int TenantCount = 5_000;

    // Movement compares two placements of every model with k = the whole fleet (a full sort of the fleet per
    // call): 60,000 models keep it quick and still put ~920 models on the new shard (sd ≈ 30), far from the
    // 1.5/N bound (~1,380).
    private const int MovementModelCount = 60_000;

    private static string[] Shards(int count) =>
        Enumerable.Range(0, count).Select(i => $"shard-{i:00}").ToArray();

    private static string Tenant(int i) => $"t{i % TenantCount}";

    private static string ModelKey(int i) => $"t{i % TenantCount}~m{i}";

    // ---- stability -------------------------------------------------------------------------------

    [TestMethod]
    public void Weight_IsAFixedValue_SoEveryProcessAgrees()
    {
        // Computed once from XxHash64("demo~m" + '\0' + "shard-00"); a change of hash or of the byte layout
        // would re-place every model in a running fleet, so it must fail here.
        Assert.AreEqual(WeightDemoShard00, RendezvousPlacement.Weight("demo~m", "shard-00"));
        Assert.AreEqual(RendezvousPlacement.Weight("demo~m", "shard-00"), RendezvousPlacement.Weight("demo~m", "shard-00"));
        Assert.AreNotEqual(RendezvousPlacement.Weight("demo~m", "shard-00"), RendezvousPlacement.Weight("demo~m", "shard-01"));
        Assert.AreNotEqual(RendezvousPlacement.Weight("demo~m", "shard-00"), RendezvousPlacement.Weight("demo~n", "shard-00"));
    }

    private const ulong WeightDemoShard00 = 3817127884011285084UL;

    [TestMethod]
    public void Weight_SeparatesKeyFromShard()
    {
        // The '\0' separator means ("ab", "c") and ("a", "bc") are different pairs.
        Assert.AreNotEqual(RendezvousPlacement.Weight("ab", "c"), RendezvousPlacement.Weight("a", "bc"));
    }

    [TestMethod]
    public void Weight_HandlesLongAndNonAsciiKeys()
    {
        var longKey = new string('k', 2_000);
        Assert.AreEqual(RendezvousPlacement.Weight(longKey, "shard-00"), RendezvousPlacement.Weight(longKey, "shard-00"));
        Assert.AreNotEqual(RendezvousPlacement.Weight(longKey, "shard-00"), RendezvousPlacement.Weight(longKey + "k", "shard-00"));
        Assert.AreNotEqual(RendezvousPlacement.Weight("é", "shard-00"), RendezvousPlacement.Weight("e", "shard-00"));
    }

    [TestMethod]
    public void SelectReplicas_IsAFixedResult_SoEveryProcessAgrees()
    {
        var shards = Shards(16);
        var replicas = RendezvousPlacement.SelectReplicas("demo", "demo~m", shards, shuffleShardSize: 4, replicas: 3);
        CollectionAssert.AreEqual(ExpectedDemoReplicas, replicas, string.Join(",", replicas));

        var shuffleShard = RendezvousPlacement.Top(RendezvousPlacement.TenantKey("demo"), shards, 4);
        CollectionAssert.AreEqual(ExpectedDemoShuffleShard, shuffleShard, string.Join(",", shuffleShard));
    }

    private static readonly string[] ExpectedDemoReplicas = ["shard-15", "shard-06", "shard-05"];
    private static readonly string[] ExpectedDemoShuffleShard = ["shard-03", "shard-05", "shard-06", "shard-15"];

    [TestMethod]
    public void SelectReplicas_DoesNotDependOnTheOrderOfTheShardList()
    {
        var shards = Shards(40);
        var reversed = shards.Reverse().ToArray();
        var shuffled = shards.OrderBy(s => RendezvousPlacement.Weight("order", s)).ToArray();
        for (var i = 0; i < 2_000; i++)
        {
            foreach (var (k, r) in new[] { (3, 1), (3, 2), (3, 5), (8, 3), (40, 2) })
            {
                var expected = RendezvousPlacement.SelectReplicas(Tenant(i), ModelKey(i), shards, k, r);
                CollectionAssert.AreEqual(expected, RendezvousPlacement.SelectReplicas(Tenant(i), ModelKey(i), reversed, k, r));
                CollectionAssert.AreEqual(expected, RendezvousPlacement.SelectReplicas(Tenant(i), ModelKey(i), shuffled, k, r));
            }
        }
    }

    // ---- Top ---------------------------------------------------------------------------------------

    [TestMethod]
    public void Top_EqualsSortingAllShardsByWeight()
    {
        var shards = Shards(20);
        for (var i = 0; i < 2_000; i++)
        {
            var key = ModelKey(i);
            var sorted = shards
                .OrderByDescending(s => RendezvousPlacement.Weight(key, s))
                .ThenBy(s => s, StringComparer.Ordinal)
                .ToArray();
            foreach (var count in new[] { 1, 2, 3, 7, 20 })
            {
                CollectionAssert.AreEqual(sorted.Take(count).ToArray(), RendezvousPlacement.Top(key, shards, count), $"key {key} count {count}");
            }
        }
    }

    [TestMethod]
    public void Top_ReturnsShardsInDescendingWeightOrder()
    {
        var shards = Shards(64);
        for (var i = 0; i < 500; i++)
        {
            var top = RendezvousPlacement.Top(ModelKey(i), shards, 10);
            Assert.HasCount(10, top);
            for (var j = 1; j < top.Length; j++)
            {
                Assert.IsTrue(
                    RendezvousPlacement.Weight(ModelKey(i), top[j - 1]) >= RendezvousPlacement.Weight(ModelKey(i), top[j]),
                    $"{ModelKey(i)}: {top[j - 1]} is before {top[j]} with a lower weight");
            }

            Assert.HasCount(10, top.Distinct().ToArray());
        }
    }

    [TestMethod]
    public void Top_ClampsCountToTheListSize()
    {
        var shards = Shards(5);
        var top = RendezvousPlacement.Top("k", shards, 10);
        Assert.HasCount(5, top);
        CollectionAssert.AreEquivalent(shards, top);
        Assert.IsEmpty(RendezvousPlacement.Top("k", shards, 0));
        Assert.IsEmpty(RendezvousPlacement.Top("k", shards, -3));
    }

    [TestMethod]
    public void EmptyShardList_GivesEmptyResults()
    {
        Assert.IsEmpty(RendezvousPlacement.Top("k", [], 3));
        Assert.IsEmpty(RendezvousPlacement.SelectReplicas("t", "t~m", [], 3, 2));
    }

    // ---- balance -------------------------------------------------------------------------------------

    [TestMethod]
    public void WholeFleet_OneReplica_SpreadsModelsEvenly()
    {
        var shards = Shards(64);
        var counts = CountPrimaries(shards, shuffleShardSize: 64);
        var mean = (double)ModelCount / shards.Length;
        foreach (var (shard, count) in counts)
        {
            Assert.IsTrue(Math.Abs(count - mean) <= mean * 0.10, $"{shard} has {count} models, mean {mean:F0}");
        }

        Assert.HasCount(64, counts);
    }

    [TestMethod]
    public void ShuffleShardsOfThree_SpreadModelsWithinABound()
    {
        // 1.15 is not reachable with k = 3: a shard's load is the sum over the ~5000*3/64 ≈ 234 tenants whose
        // shuffle shard holds it, each bringing ~20 of its 60 models, so the per-shard count varies with the
        // number of tenants it gets: Var = E[N]Var(X) + Var(N)E[X]^2 ≈ 234*13 + 222*400, sd ≈ 300 models
        // ≈ 6.5 % of the mean (vs 1.5 % with k = 64). The busiest of 64 shards is expected ~2.4-3 sd above
        // the mean, 1.16-1.20x; this fixed input measures max/mean = 1.193, min/mean = 0.865. The bounds
        // (1.25 / 0.80, ~3.9 sd) admit that tenant granularity and still fail on a real skew.
        var shards = Shards(64);
        var counts = CountPrimaries(shards, shuffleShardSize: 3);
        var mean = (double)ModelCount / shards.Length;
        var max = counts.Values.Max();
        var min = counts.Values.Min();
        Assert.IsTrue(max / mean <= MaxOverMeanK3, $"max/mean = {max / mean:F4} (max {max}, min {min}, mean {mean:F0})");
        Assert.IsTrue(min / mean >= MinOverMeanK3, $"min/mean = {min / mean:F4} (max {max}, min {min}, mean {mean:F0})");
        Assert.HasCount(64, counts);
    }

    private const double MaxOverMeanK3 = 1.25;
    private const double MinOverMeanK3 = 0.80;

    private static Dictionary<string, int> CountPrimaries(string[] shards, int shuffleShardSize)
    {
        var primaries = Primaries(shards, shuffleShardSize);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var primary in primaries)
        {
            counts[primary] = counts.GetValueOrDefault(primary) + 1;
        }

        return counts;
    }

    /// <summary>The primary (R = 1) of every model, computed in parallel (the loop is pure).</summary>
    private static string[] Primaries(string[] shards, int shuffleShardSize, int models = ModelCount)
    {
        var result = new string[models];
        var wrongCount = 0;
        Parallel.For(0, models, i =>
        {
            var replicas = RendezvousPlacement.SelectReplicas(Tenant(i), ModelKey(i), shards, shuffleShardSize, 1);
            if (replicas.Length != 1)
            {
                Interlocked.Increment(ref wrongCount);
            }

            result[i] = replicas[0];
        });
        Assert.AreEqual(0, wrongCount, "SelectReplicas with R = 1 did not give exactly one shard");
        return result;
    }

    // ---- minimal movement ------------------------------------------------------------------------------

    [TestMethod]
    public void AddingAShard_MovesFewModels_AndOnlyToTheNewShard()
    {
        var before = Shards(64);
        var after = Shards(65);
        var primariesBefore = Primaries(before, before.Length, MovementModelCount);
        var primariesAfter = Primaries(after, after.Length, MovementModelCount);
        var moved = 0;
        for (var i = 0; i < MovementModelCount; i++)
        {
            var (a, b) = (primariesBefore[i], primariesAfter[i]);
            if (a != b)
            {
                moved++;
                Assert.AreEqual("shard-64", b, $"{ModelKey(i)} moved from {a} to {b}, not to the new shard");
            }
        }

        Assert.IsTrue(moved <= 1.5 * MovementModelCount / after.Length, $"{moved} of {MovementModelCount} models moved");
        Assert.IsTrue(moved > 0, "the new shard got no models");
    }

    [TestMethod]
    public void RemovingAShard_MovesOnlyThatShardsModels()
    {
        var before = Shards(64);
        var after = before.Where(s => s != "shard-17").ToArray();
        var moved = 0;
        var onRemoved = 0;
        var primariesBefore = Primaries(before, before.Length, MovementModelCount);
        var primariesAfter = Primaries(after, after.Length, MovementModelCount);
        for (var i = 0; i < MovementModelCount; i++)
        {
            var (a, b) = (primariesBefore[i], primariesAfter[i]);
            if (a == "shard-17")
            {
                onRemoved++;
                Assert.AreNotEqual("shard-17", b);
            }
            else
            {
                Assert.AreEqual(a, b, $"{ModelKey(i)} moved from {a} to {b} though {a} stayed");
            }

            if (a != b)
            {
                moved++;
            }
        }

        Assert.AreEqual(onRemoved, moved);
        Assert.IsTrue(onRemoved > 0);
    }

    [TestMethod]
    public void RemovingAShard_KeepsTheOtherReplicasOfAModel()
    {
        // With R = 3 a removed shard's replica is replaced and the surviving replicas keep their order.
        var before = Shards(16);
        var after = before.Where(s => s != "shard-05").ToArray();
        for (var i = 0; i < 5_000; i++)
        {
            var a = RendezvousPlacement.SelectReplicas(Tenant(i), ModelKey(i), before, 16, 3);
            var b = RendezvousPlacement.SelectReplicas(Tenant(i), ModelKey(i), after, 15, 3);
            var survivors = a.Where(s => s != "shard-05").ToArray();
            CollectionAssert.AreEqual(survivors, b.Take(survivors.Length).ToArray(), $"{ModelKey(i)}: {string.Join(",", a)} -> {string.Join(",", b)}");
        }
    }

    // ---- shuffle shards ------------------------------------------------------------------------------------

    [TestMethod]
    public void Replicas_LieInsideTheTenantsShuffleShard_WhenTheyFit()
    {
        var shards = Shards(32);
        for (var t = 0; t < 200; t++)
        {
            var tenant = $"tenant-{t}";
            foreach (var k in new[] { 1, 3, 5 })
            {
                var shuffleShard = RendezvousPlacement.Top(RendezvousPlacement.TenantKey(tenant), shards, k);
                for (var m = 0; m < 20; m++)
                {
                    for (var r = 1; r <= k; r++)
                    {
                        var replicas = RendezvousPlacement.SelectReplicas(tenant, $"{tenant}~m{m}", shards, k, r);
                        Assert.HasCount(r, replicas);
                        Assert.HasCount(r, replicas.Distinct().ToArray());
                        foreach (var replica in replicas)
                        {
                            CollectionAssert.Contains(shuffleShard, replica, $"{tenant} k={k} r={r}");
                        }
                    }
                }
            }
        }
    }

    [TestMethod]
    public void Replicas_BeyondTheShuffleShard_ComeFromOutsideIt()
    {
        var shards = Shards(32);
        for (var t = 0; t < 200; t++)
        {
            var tenant = $"tenant-{t}";
            const int k = 3;
            var shuffleShard = RendezvousPlacement.Top(RendezvousPlacement.TenantKey(tenant), shards, k);
            var modelKey = $"{tenant}~big";
            var replicas = RendezvousPlacement.SelectReplicas(tenant, modelKey, shards, k, 7);
            Assert.HasCount(7, replicas);
            Assert.HasCount(7, replicas.Distinct().ToArray());
            CollectionAssert.AreEquivalent(shuffleShard, replicas.Take(k).ToArray());
            CollectionAssert.AreEqual(RendezvousPlacement.Top(modelKey, shuffleShard, k), replicas.Take(k).ToArray());
            var others = shards.Except(shuffleShard).ToArray();
            CollectionAssert.AreEqual(RendezvousPlacement.Top(modelKey, others, 4), replicas.Skip(k).ToArray());
        }
    }

    [TestMethod]
    public void Replicas_AreClampedToTheFleet()
    {
        var shards = Shards(4);
        var replicas = RendezvousPlacement.SelectReplicas("t", "t~m", shards, 2, 10);
        Assert.HasCount(4, replicas);
        CollectionAssert.AreEquivalent(shards, replicas);

        // Zero or negative replicas still give the primary.
        Assert.HasCount(1, RendezvousPlacement.SelectReplicas("t", "t~m", shards, 2, 0));
        Assert.HasCount(1, RendezvousPlacement.SelectReplicas("t", "t~m", shards, 0, 1));
    }

    [TestMethod]
    public void TenantsGetDifferentShuffleShards()
    {
        // Shuffle sharding isolates tenants: with 64 shards and k = 3 there are 41,664 possible sets, so 200
        // tenants should nearly all get distinct sets, and tenant keys must not collide with model keys.
        var shards = Shards(64);
        var sets = new HashSet<string>(StringComparer.Ordinal);
        for (var t = 0; t < 200; t++)
        {
            sets.Add(string.Join(",", RendezvousPlacement.Top(RendezvousPlacement.TenantKey($"tenant-{t}"), shards, 3).Order(StringComparer.Ordinal)));
        }

        Assert.IsGreaterThanOrEqualTo(190, sets.Count);
        Assert.AreEqual("tenant:demo", RendezvousPlacement.TenantKey("demo"));
    }
}
