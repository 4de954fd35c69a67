using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Serverless.Cli.Simulation;

namespace Serverless.Cli.Bench;

/// <summary>
/// <c>bench --scenario fleet --models N</c>: the platform at the mission's size. On a cluster of its own (each shard's
/// cache a tenth of its share of the fleet), it publishes N distinct tiny models through the blob drop as a user does
/// (models/s, and the router's and shards' RSS at 1,000, 10,000 and N registered models, before any traffic), sends zipf
/// traffic over all of them through the router (hit rate; hit and miss latencies apart; storage reads a second), and
/// then a burst of 500 models never requested before, 32 in flight, against a single cold load.
/// </summary>
internal sealed class FleetScenario
{
    /// <summary>What a tiny model's session is charged on a shard (the density bench: ~55 KiB), to size the caches.</summary>
    public const long TinySessionBytes = 56 * 1024;

    /// <summary>Distinct cold models of the burst, and how many of its requests are in flight at once.</summary>
    public const int BurstModels = 500;
    public const int BurstInFlight = 32;

    /// <summary>Fresh models loaded one at a time for the single cold load the burst is compared with.</summary>
    private const int SingleColdModels = 20;

    private const double Mi = 1024.0 * 1024;
    private readonly BenchOptions _options;
    private readonly Action<string> _log;

    public FleetScenario(BenchOptions options, Action<string> log)
    {
        _options = options;
        _log = log;
    }

    /// <summary>Each shard's cache budget: a tenth of its share of the fleet's sessions (at least 16 MiB).</summary>
    public static long ShardCacheBytes(int models, int shards) => Math.Max(16L * 1024 * 1024, models * TinySessionBytes / 10 / Math.Max(1, shards));

    public async Task<IReadOnlyList<ScenarioResult>> RunAsync(HttpLoadGenerator generator, CancellationToken cancellationToken)
    {
        var count = _options.Models;
        var cacheBytes = ShardCacheBytes(count, _options.Shards);
        _log(string.Create(CultureInfo.InvariantCulture, $"fleet: starting a cluster of its own ({_options.Shards} shards, {cacheBytes / Mi:0} MiB cache each: a tenth of their share of {count:N0} tiny models)…"));
        await using var cluster = await BenchCluster.OpenAsync(reuse: false, _options.Shards, cacheBytes, _log, cancellationToken).ConfigureAwait(false);
        var results = new List<ScenarioResult>();
        var names = new string[count];
        for (var i = 0; i < count; i++)
        {
            names[i] = string.Create(CultureInfo.InvariantCulture, $"fleet-{i:000000}");
        }

        results.Add(await PublishAsync(cluster, names, cancellationToken).ConfigureAwait(false));
        results.Add(await ZipfAsync(generator, cluster, names, cancellationToken).ConfigureAwait(false));
        results.AddRange(await BurstAsync(generator, cluster, cancellationToken).ConfigureAwait(false));
        return results;
    }

    /// <summary>Publishes the fleet in steps (1,000, 10,000, N), the RSS of the router and shards taken after each.</summary>
    private async Task<ScenarioResult> PublishAsync(BenchCluster cluster, string[] names, CancellationToken cancellationToken)
    {
        var processes = ClusterScrape.Processes(cluster).Where(p => p.Name == "router" || p.Name.StartsWith("shard-", StringComparison.Ordinal)).ToList();
        var steps = new[] { 1_000, 10_000, names.Length }.Where(s => s <= names.Length).Distinct().ToArray();
        var rssAt = new SortedDictionary<int, Dictionary<string, long>>();
        var done = 0;
        var started = Stopwatch.GetTimestamp();
        foreach (var step in steps)
        {
            _log(string.Create(CultureInfo.InvariantCulture, $"fleet: publishing models {done + 1:N0}–{step:N0} ({_options.PublishParallelism} at a time)…"));
            var part = names[done..step];
            var offset = done;
            await cluster.PublishAsync(part, i => BenchModels.Distinct(offset + i), _options.PublishParallelism, _log, cancellationToken).ConfigureAwait(false);
            done = step;
            // A moment for the epoch poll and the name sets to catch up, then the memory as it stands with no traffic.
            await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
            rssAt[step] = processes.ToDictionary(p => p.Name, p => ProcessMemory.ResidentBytes(p.Pid) ?? 0, StringComparer.Ordinal);
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var result = new ScenarioResult
        {
            Id = "fleet-publish",
            Scenario = "fleet",
            Mode = string.Create(CultureInfo.InvariantCulture, $"publish {names.Length:N0} distinct tiny models through the drop, {_options.PublishParallelism} at a time"),
            Requests = names.Length,
            Seconds = seconds,
            Throughput = names.Length / seconds,
            Plot = false,
        };
        result.Metrics["models_per_s"] = names.Length / seconds;
        result.Notes["publishing"] = string.Create(CultureInfo.InvariantCulture, $"{names.Length:N0} models in {seconds:0} s: {names.Length / seconds:0.0} models/s");
        var first = rssAt[steps[0]];
        var last = rssAt[steps[^1]];
        foreach (var (name, _) in processes)
        {
            var line = string.Join(", ", rssAt.Select(pair => string.Create(CultureInfo.InvariantCulture, $"{pair.Value[name] / Mi:0} MiB at {pair.Key:N0}")));
            result.Notes["rss " + name] = line;
            if (first[name] > 0)
            {
                result.Metrics["rss_growth_" + name] = (double)last[name] / first[name];
            }
        }

        return result;
    }

    private async Task<ScenarioResult> ZipfAsync(HttpLoadGenerator generator, BenchCluster cluster, string[] names, CancellationToken cancellationToken)
    {
        var sampler = new ZipfSampler(names.Length, _options.Zipf);
        var uris = names.Select(cluster.RouterInferUri).ToArray();
        var target = new LoadTarget(uris, BenchModels.LinearRequest, cluster.ApiKey, sampler.Sample);
        var mode = string.Create(CultureInfo.InvariantCulture, $"closed-loop, {_options.Connections} conn, zipf {_options.Zipf} over {names.Length:N0} models, via router");
        _log($"fleet: {mode}…");
        var readsBefore = await ClusterScrape.StorageReadsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false);
        var readsStarted = Stopwatch.GetTimestamp();
        var run = await generator.ClosedLoopAsync(target, TimeSpan.FromSeconds(_options.WarmupSeconds), TimeSpan.FromSeconds(_options.DurationSeconds), cancellationToken).ConfigureAwait(false);
        var reads = await ClusterScrape.StorageReadsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false) - readsBefore;
        var readSeconds = Stopwatch.GetElapsedTime(readsStarted).TotalSeconds;
        var result = run.ToResult("fleet-zipf", "fleet", mode);
        var answered = run.Hits + run.Misses;
        result.Metrics["hit_rate"] = answered > 0 ? (double)run.Hits / answered : 0;
        result.Notes["hit rate (x-cache)"] = string.Create(CultureInfo.InvariantCulture, $"{result.Metrics["hit_rate"]:P1} ({run.Hits:N0} hit, {run.Misses:N0} miss)");
        result.Metrics["storage_reads_per_s"] = reads / readSeconds;
        result.Notes["storage reads"] = string.Create(CultureInfo.InvariantCulture, $"{reads / readSeconds:0.0}/s (router and shards, warm-up included)");
        foreach (var (name, pid) in ClusterScrape.Processes(cluster))
        {
            if (name == "router" || name.StartsWith("shard-", StringComparison.Ordinal))
            {
                result.Notes["rss " + name] = string.Create(CultureInfo.InvariantCulture, $"{(ProcessMemory.ResidentBytes(pid) ?? 0) / Mi:0} MiB after the zipf phase");
            }
        }

        return result;
    }

    /// <summary>
    /// Fresh models' first requests one at a time (a single cold load), then 500 other fresh models' first requests with
    /// 32 in flight: loads of different models in parallel, on a shard that also serves hits.
    /// </summary>
    private async Task<ScenarioResult[]> BurstAsync(HttpLoadGenerator generator, BenchCluster cluster, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var single = Enumerable.Range(0, SingleColdModels).Select(i => string.Create(CultureInfo.InvariantCulture, $"cold1-{run}-{i:000}")).ToArray();
        var burst = Enumerable.Range(0, BurstModels).Select(i => string.Create(CultureInfo.InvariantCulture, $"burst-{run}-{i:000}")).ToArray();
        _log($"fleet: publishing {single.Length + burst.Length} fresh models for the cold burst…");
        await cluster.PublishAsync([.. single, .. burst], i => BenchModels.Distinct(10_000_000 + i), _options.PublishParallelism, _log, cancellationToken).ConfigureAwait(false);
        // Past the next epoch poll: the router and shards know the new names before the first request.
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);

        _log("fleet: single cold loads, one at a time…");
        var one = new LoadRun(single.Length);
        var started = Stopwatch.GetTimestamp();
        foreach (var name in single)
        {
            await FirstRequestAsync(generator, cluster, name, one, cancellationToken).ConfigureAwait(false);
        }

        one.Seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var singleResult = one.ToResult("fleet-cold-single", "fleet", $"first request of {single.Length} fresh tiny models, one at a time, via router");
        singleResult.Throughput = 0;

        _log($"fleet: cold burst, {burst.Length} fresh models, {BurstInFlight} in flight…");
        var many = new LoadRun(burst.Length);
        var queue = new ConcurrentQueue<string>(burst);
        started = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, BurstInFlight).Select(async _ =>
        {
            while (queue.TryDequeue(out var name))
            {
                await FirstRequestAsync(generator, cluster, name, many, cancellationToken).ConfigureAwait(false);
            }
        });
        await Task.WhenAll(workers).ConfigureAwait(false);
        many.Seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var burstResult = many.ToResult("fleet-cold-burst", "fleet", $"first request of {burst.Length} fresh tiny models, {BurstInFlight} in flight, via router");
        burstResult.Metrics["single_cold_p50_ms"] = singleResult.P50Ms;
        burstResult.Metrics["burst_p99_over_single"] = singleResult.P50Ms > 0 ? burstResult.P99Ms / singleResult.P50Ms : 0;
        burstResult.Notes["against a single cold load"] = string.Create(CultureInfo.InvariantCulture, $"burst p99 {burstResult.P99Ms:0.0} ms = {burstResult.Metrics["burst_p99_over_single"]:0.0} × a single cold load's p50 ({singleResult.P50Ms:0.0} ms)");
        return [singleResult, burstResult];
    }

    /// <summary>One request of <paramref name="model"/> through the router, recorded in <paramref name="run"/>.</summary>
    private static async Task FirstRequestAsync(HttpLoadGenerator generator, BenchCluster cluster, string model, LoadRun run, CancellationToken cancellationToken)
    {
        var (status, hit, ms) = await generator.SendOnceAsync(cluster.RouterInferUri(model), BenchModels.LinearRequest, cluster.ApiKey, cancellationToken).ConfigureAwait(false);
        run.Record(ms, status == 200, hit);
        if (status != 200)
        {
            run.NoteError($"HTTP {status} for {model}");
        }
    }
}
