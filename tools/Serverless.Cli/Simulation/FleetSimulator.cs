using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using Serverless.Core.Naming;
using Serverless.Core.Placement;

namespace Serverless.Cli.Simulation;

/// <summary>
/// A synthetic fleet placed by the platform's own code: every model's replicas come from
/// <see cref="RendezvousPlacement.SelectReplicas"/> and every replica count from <see cref="ScalingPolicy"/>.
/// Model i belongs to tenant i mod T; request popularity over models is zipf(s), the ranks shuffled over
/// the models by the seed, so popularity is independent of tenant and name. Pure and deterministic for
/// given options: no cluster, no clock in the results.
/// </summary>
internal sealed class FleetSimulator
{
    private const double CacheWarmUpShare = 0.1;

    private readonly SimulationOptions _options;
    private readonly string[] _tenantNames;
    private readonly int[] _modelTenant;
    private readonly string[] _modelKeys;
    private readonly double[] _modelRps;
    private readonly int[] _modelOfRank;
    private readonly ZipfSampler _zipf;
    private long _placementCalls;

    public FleetSimulator(SimulationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        _options = options;
        _tenantNames = new string[options.Tenants];
        for (var t = 0; t < options.Tenants; t++)
        {
            _tenantNames[t] = TenantName(t);
        }

        _modelTenant = new int[options.Models];
        _modelKeys = new string[options.Models];
        for (var m = 0; m < options.Models; m++)
        {
            _modelTenant[m] = m % options.Tenants;
            _modelKeys[m] = ModelNames.ModelKey(_tenantNames[_modelTenant[m]], ModelName(m));
        }

        _zipf = new ZipfSampler(options.Models, options.Zipf);
        _modelOfRank = new int[options.Models];
        for (var m = 0; m < options.Models; m++)
        {
            _modelOfRank[m] = m;
        }

        new Random(options.Seed).Shuffle(_modelOfRank);
        _modelRps = new double[options.Models];
        for (var rank = 0; rank < options.Models; rank++)
        {
            _modelRps[_modelOfRank[rank]] = options.Rps * _zipf.Probabilities[rank];
        }
    }

    public SimulationOptions Options => _options;

    /// <summary>Requests per second of each model.</summary>
    public IReadOnlyList<double> ModelRps => _modelRps;

    public int TenantOf(int model) => _modelTenant[model];

    public string TenantNameOf(int model) => _tenantNames[_modelTenant[model]];

    public string ModelKeyOf(int model) => _modelKeys[model];

    public long PlacementCalls => Interlocked.Read(ref _placementCalls);

    public static string ShardId(int index) => "shard-" + index.ToString("D2", CultureInfo.InvariantCulture);

    public static string TenantName(int index) => "tenant-" + index.ToString("D4", CultureInfo.InvariantCulture);

    public static string ModelName(int index) => "model-" + index.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary><c>shard-00 … shard-(count-1)</c>.</summary>
    public static string[] ShardIds(int count)
    {
        var ids = new string[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = ShardId(i);
        }

        return ids;
    }

    /// <summary>
    /// Places every model on <paramref name="shardIds"/> with <see cref="RendezvousPlacement.SelectReplicas"/>:
    /// <paramref name="replicasPerModel"/> replicas each (null: the options' replica count). Shard indexes in
    /// the result are positions in <paramref name="indexIds"/>, which must name every shard in <paramref name="shardIds"/>.
    /// </summary>
    public ReplicaMap Place(IReadOnlyList<string> shardIds, IReadOnlyList<string> indexIds, int[]? replicasPerModel = null)
    {
        ArgumentNullException.ThrowIfNull(shardIds);
        ArgumentNullException.ThrowIfNull(indexIds);
        var indexOf = new Dictionary<string, int>(indexIds.Count, StringComparer.Ordinal);
        for (var i = 0; i < indexIds.Count; i++)
        {
            indexOf[indexIds[i]] = i;
        }

        var models = _options.Models;
        var offsets = new int[models + 1];
        for (var m = 0; m < models; m++)
        {
            // SelectReplicas clamps the count the same way.
            var wanted = replicasPerModel?[m] ?? _options.Replicas;
            offsets[m + 1] = offsets[m] + Math.Clamp(wanted, 1, Math.Max(1, shardIds.Count));
        }

        var shards = new int[offsets[models]];
        var k = _options.K;
        Parallel.For(0, models, () => 0L, (m, _, calls) =>
        {
            var replicas = RendezvousPlacement.SelectReplicas(_tenantNames[_modelTenant[m]], _modelKeys[m], shardIds, k, offsets[m + 1] - offsets[m]);
            if (replicas.Length != offsets[m + 1] - offsets[m])
            {
                throw new InvalidOperationException($"SelectReplicas returned {replicas.Length} replicas for {_modelKeys[m]}, expected {offsets[m + 1] - offsets[m]}");
            }

            for (var r = 0; r < replicas.Length; r++)
            {
                shards[offsets[m] + r] = indexOf[replicas[r]];
            }

            return calls + 1;
        }, calls => Interlocked.Add(ref _placementCalls, calls));
        return new ReplicaMap(offsets, shards);
    }

    /// <summary>Each tenant's shuffle shard (<c>Top(TenantKey(tenant), shards, k)</c>) as sorted shard indexes into <paramref name="indexIds"/>.</summary>
    public int[][] ShuffleShards(IReadOnlyList<string> shardIds, IReadOnlyList<string> indexIds)
    {
        ArgumentNullException.ThrowIfNull(shardIds);
        ArgumentNullException.ThrowIfNull(indexIds);
        var indexOf = new Dictionary<string, int>(indexIds.Count, StringComparer.Ordinal);
        for (var i = 0; i < indexIds.Count; i++)
        {
            indexOf[indexIds[i]] = i;
        }

        var result = new int[_options.Tenants][];
        Parallel.For(0, _options.Tenants, t =>
        {
            var top = RendezvousPlacement.Top(RendezvousPlacement.TenantKey(_tenantNames[t]), shardIds, _options.K);
            var set = new int[top.Length];
            for (var i = 0; i < top.Length; i++)
            {
                set[i] = indexOf[top[i]];
            }

            Array.Sort(set);
            result[t] = set;
        });
        return result;
    }

    /// <summary>Requests per second on each shard: every model's rate split evenly over its replicas.</summary>
    public double[] ShardLoad(ReplicaMap map, int shardCount)
    {
        ArgumentNullException.ThrowIfNull(map);
        var load = new double[shardCount];
        for (var m = 0; m < map.Models; m++)
        {
            var replicas = map.ReplicasOf(m);
            var share = _modelRps[m] / replicas.Length;
            foreach (var shard in replicas)
            {
                load[shard] += share;
            }
        }

        return load;
    }

    /// <summary>Model replicas on each shard.</summary>
    public static double[] ModelsPerShard(ReplicaMap map, int shardCount)
    {
        ArgumentNullException.ThrowIfNull(map);
        var count = new double[shardCount];
        for (var m = 0; m < map.Models; m++)
        {
            foreach (var shard in map.ReplicasOf(m))
            {
                count[shard]++;
            }
        }

        return count;
    }

    /// <summary>The replica count <see cref="ScalingPolicy.Decide"/> sets for each model from its request rate (the simulation has no service times, so no concurrency), starting at the options' count.</summary>
    public int[] ScaledReplicas()
    {
        var policy = new ScalingPolicy(new ScalingOptions { RequestsPerReplica = _options.RequestsPerReplica, MaxReplicas = _options.MaxReplicas });
        var replicas = new int[_options.Models];
        for (var m = 0; m < replicas.Length; m++)
        {
            replicas[m] = policy.Decide(_modelRps[m], 0, 0, _options.Replicas, TimeSpan.Zero);
        }

        return replicas;
    }

    /// <summary>
    /// Compares two placements of the same models. <paramref name="changedShard"/> is the shard added (present
    /// only after) or removed (present only before); the shuffle shards tell which tenants were reshuffled.
    /// </summary>
    public MovementStats Movement(
        string change, ReplicaMap before, ReplicaMap after, int changedShard, bool added,
        int[][] shuffleBefore, int[][] shuffleAfter, int shardsBefore, int shardsAfter)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        ArgumentNullException.ThrowIfNull(shuffleBefore);
        ArgumentNullException.ThrowIfNull(shuffleAfter);
        var reshuffled = new bool[_options.Tenants];
        var tenantsReshuffled = 0;
        for (var t = 0; t < reshuffled.Length; t++)
        {
            reshuffled[t] = !shuffleBefore[t].AsSpan().SequenceEqual(shuffleAfter[t]);
            tenantsReshuffled += reshuffled[t] ? 1 : 0;
        }

        int moved = 0, direct = 0, within = 0, unexplained = 0;
        double movedRps = 0, totalRps = 0;
        for (var m = 0; m < before.Models; m++)
        {
            totalRps += _modelRps[m];
            var old = before.ReplicasOf(m);
            var now = after.ReplicasOf(m);
            if (ReplicaMap.SameSet(old, now))
            {
                continue;
            }

            moved++;
            movedRps += _modelRps[m];
            if (added ? now.Contains(changedShard) : old.Contains(changedShard))
            {
                direct++;
            }
            else if (reshuffled[_modelTenant[m]])
            {
                within++;
            }
            else
            {
                unexplained++;
            }
        }

        return new MovementStats(
            change, shardsBefore, shardsAfter, moved, (double)moved / before.Models, totalRps > 0 ? movedRps / totalRps : 0,
            direct, within, unexplained, tenantsReshuffled, ExpectedMovedShare(added, shardsBefore, _options.K, _options.Replicas));
    }

    /// <summary>
    /// The share of models expected to move, for R ≤ k. A shard joins (or leaves) a tenant's shuffle shard with
    /// probability k/N', displacing (or being replaced by) one other; a model of that tenant keeps its R replicas
    /// unless either of the two swapped shards is among the top R of the k+1 involved, which has probability
    /// 1 - C(k-1,R)/C(k+1,R). Without shuffle sharding (k ≥ shards) it is plain rendezvous: R/N'.
    /// </summary>
    public static double? ExpectedMovedShare(bool added, int shardsBefore, int k, int replicas)
    {
        if (replicas > k)
        {
            return null;
        }

        var n = added ? shardsBefore + 1 : shardsBefore;
        var staysInTenant = (double)(k + 1 - replicas) * (k - replicas) / ((k + 1.0) * k);
        if (added)
        {
            return k >= shardsBefore + 1 ? (double)replicas / n : k < shardsBefore ? (double)k / n * (1 - staysInTenant) : null;
        }

        return k >= shardsBefore ? (double)replicas / n : k <= shardsBefore - 1 ? (double)k / n * (1 - staysInTenant) : null;
    }

    /// <summary>C(n, k) as a double.</summary>
    public static double Combinations(int n, int k)
    {
        if (k < 0 || k > n)
        {
            return 0;
        }

        k = Math.Min(k, n - k);
        var result = 1.0;
        for (var i = 1; i <= k; i++)
        {
            result = result * (n - k + i) / i;
        }

        return result;
    }

    /// <summary>Shuffle-shard overlap between each sampled tenant and every other tenant.</summary>
    public BlastRadiusStats BlastRadius(int[][] shuffle, int shardCount)
    {
        ArgumentNullException.ThrowIfNull(shuffle);
        var tenants = shuffle.Length;
        var words = (shardCount + 63) / 64;
        var bits = new ulong[tenants * words];
        for (var t = 0; t < tenants; t++)
        {
            foreach (var shard in shuffle[t])
            {
                bits[(t * words) + (shard / 64)] |= 1UL << (shard % 64);
            }
        }

        var sample = SampleTenants(tenants, _options.BlastSample, _options.Seed);
        var anyShare = new double[sample.Length];
        var fullShare = new double[sample.Length];
        var others = Math.Max(1, tenants - 1);
        Parallel.For(0, sample.Length, i =>
        {
            var bad = sample[i];
            var size = shuffle[bad].Length;
            int any = 0, full = 0;
            for (var t = 0; t < tenants; t++)
            {
                if (t == bad)
                {
                    continue;
                }

                var shared = 0;
                for (var w = 0; w < words; w++)
                {
                    shared += BitOperations.PopCount(bits[(bad * words) + w] & bits[(t * words) + w]);
                }

                any += shared > 0 ? 1 : 0;
                full += shared == size ? 1 : 0;
            }

            anyShare[i] = (double)any / others;
            fullShare[i] = (double)full / others;
        });

        var k = Math.Min(_options.K, shardCount);
        var combinations = Combinations(shardCount, k);
        var any = DistributionStats.From(anyShare);
        var full = DistributionStats.From(fullShare);
        return new BlastRadiusStats(
            sample.Length, any.Mean, any.Max, full.Mean, full.Max, fullShare.Count(s => s > 0),
            1 - (Combinations(shardCount - k, k) / combinations), 1 / combinations, combinations);
    }

    /// <summary>Replays <see cref="SimulationOptions.CacheRequests"/> zipf-sampled requests through per-shard LRU caches.</summary>
    public CacheStats Cache(ReplicaMap map, int shardCount)
    {
        ArgumentNullException.ThrowIfNull(map);
        // Two streams: which model (the same sequence for every placement), and which replica serves it.
        var models = new Random(_options.Seed + 1);
        var pick = new Random(_options.Seed + 2);
        var perShard = new List<int>[shardCount];
        for (var s = 0; s < shardCount; s++)
        {
            perShard[s] = new List<int>(_options.CacheRequests / shardCount + 16);
        }

        for (var i = 0; i < _options.CacheRequests; i++)
        {
            var model = _modelOfRank[_zipf.Sample(models)];
            var replicas = map.ReplicasOf(model);
            var shard = replicas.Length == 1 ? replicas[0] : replicas[pick.Next(replicas.Length)];
            perShard[shard].Add(model);
        }

        var hits = new long[shardCount];
        var counted = new long[shardCount];
        Parallel.For(0, shardCount, s =>
        {
            var cache = new LruCacheModel(_options.CacheModels);
            var stream = perShard[s];
            var warmUp = (int)(stream.Count * CacheWarmUpShare);
            for (var i = 0; i < stream.Count; i++)
            {
                var hit = cache.Access(stream[i]);
                if (i >= warmUp)
                {
                    counted[s]++;
                    hits[s] += hit ? 1 : 0;
                }
            }
        });

        var rates = new List<double>(shardCount);
        for (var s = 0; s < shardCount; s++)
        {
            if (counted[s] > 0)
            {
                rates.Add((double)hits[s] / counted[s]);
            }
        }

        var totalCounted = counted.Sum();
        return new CacheStats(
            _options.CacheModels, _options.CacheRequests, (int)totalCounted,
            totalCounted > 0 ? (double)hits.Sum() / totalCounted : 0, DistributionStats.From(rates.ToArray()));
    }

    /// <summary>Runs every measurement.</summary>
    public SimulationReport Run()
    {
        var total = Stopwatch.StartNew();
        var timings = new List<PhaseTiming>();
        var watch = Stopwatch.StartNew();
        void Lap(string phase)
        {
            timings.Add(new PhaseTiming(phase, Math.Round(watch.Elapsed.TotalSeconds, 3)));
            watch.Restart();
        }

        var n = _options.Shards;
        var allIds = ShardIds(n + 1);
        var current = allIds[..n];
        var withAdded = allIds;
        var withRemoved = allIds[..(n - 1)];

        var baseline = Place(current, allIds);
        Lap("place (baseline)");
        var loadBefore = ShardLoad(baseline, n);
        var modelsBefore = ModelsPerShard(baseline, n);

        var scaledReplicas = ScaledReplicas();
        var scaled = Place(current, allIds, scaledReplicas);
        var loadAfter = ShardLoad(scaled, n);
        var modelsAfter = ModelsPerShard(scaled, n);
        Lap("per-model scaling");

        var shuffleNow = ShuffleShards(current, allIds);
        var added = Place(withAdded, allIds);
        var addedStats = Movement($"add {allIds[n]}", baseline, added, n, added: true, shuffleNow, ShuffleShards(withAdded, allIds), n, n + 1);
        var removed = Place(withRemoved, allIds);
        var removedStats = Movement($"remove {allIds[n - 1]}", baseline, removed, n - 1, added: false, shuffleNow, ShuffleShards(withRemoved, allIds), n, n - 1);
        Lap("movement (add, remove)");

        var blast = BlastRadius(shuffleNow, n);
        Lap("blast radius");

        var cacheBefore = Cache(baseline, n);
        var cacheAfter = Cache(scaled, n);
        Lap("cache replay (x2)");

        var hottestBefore = ArgMax(loadBefore);
        var hottestAfter = ArgMax(loadAfter);
        var hottestModel = _modelOfRank[0];
        var scaling = new ScalingStats(
            scaledReplicas.Count(r => r > _options.Replicas), baseline.TotalReplicas, scaled.TotalReplicas,
            _modelRps[hottestModel], scaled.ReplicasOf(hottestModel).Length,
            current[hottestBefore], loadBefore[hottestBefore], current[hottestAfter], loadAfter[hottestAfter]);

        return new SimulationReport
        {
            Options = _options,
            ShardIds = current,
            ModelsPerShard = DistributionStats.From(modelsBefore),
            ModelsPerShardAfterScaling = DistributionStats.From(modelsAfter),
            LoadBefore = DistributionStats.From(loadBefore),
            LoadAfter = DistributionStats.From(loadAfter),
            ShardLoadBefore = loadBefore,
            ShardLoadAfter = loadAfter,
            Scaling = scaling,
            ShardAdded = addedStats,
            ShardRemoved = removedStats,
            BlastRadius = blast,
            CacheBefore = cacheBefore,
            CacheAfter = cacheAfter,
            PlacementCalls = PlacementCalls,
            Timings = timings,
            TotalSeconds = Math.Round(total.Elapsed.TotalSeconds, 3),
        };
    }

    private static int ArgMax(double[] values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary><paramref name="sample"/> distinct tenants, all of them when the sample is at least their number; seeded.</summary>
    private static int[] SampleTenants(int tenants, int sample, int seed)
    {
        var all = new int[tenants];
        for (var t = 0; t < tenants; t++)
        {
            all[t] = t;
        }

        if (sample >= tenants)
        {
            return all;
        }

        new Random(seed + 3).Shuffle(all);
        var chosen = all[..sample];
        Array.Sort(chosen);
        return chosen;
    }
}
