using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Serverless.Cli.Simulation;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Bench;

/// <summary>
/// Runs the scenarios of <c>serverless bench</c> in order (floors first, then the cluster ones) and
/// collects their results. Everything is on loopback and bounded in time; what it starts, it stops.
/// </summary>
internal sealed partial class BenchRunner
{
    private readonly BenchOptions _options;
    private readonly Action<string> _log;
    private readonly string _runId = Guid.NewGuid().ToString("N")[..6];

    public BenchRunner(BenchOptions options, Action<string> log)
    {
        _options = options;
        _log = log;
    }

    private TimeSpan Duration => TimeSpan.FromSeconds(_options.DurationSeconds);

    private TimeSpan Warmup => TimeSpan.FromSeconds(_options.WarmupSeconds);

    private string ClosedMode => $"closed-loop, {_options.Connections} conn";

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        var report = new BenchReport
        {
            Machine = MachineInfo.Current(),
            Command = _options.CommandLine,
            StartedUtc = DateTime.UtcNow,
        };
        var results = report.Results;
        var started = Stopwatch.GetTimestamp();

        if (_options.Runs("floor-ort"))
        {
            _log("floor-ort: the demo model's Run in process…");
            results.AddRange(OrtFloor.Measure(TimeSpan.FromSeconds(Math.Clamp(_options.DurationSeconds, 1.5, 9))));
        }

        using var generator = new HttpLoadGenerator(_options.Connections);
        if (_options.Runs("floor-http"))
        {
            await using var servers = await CannedServers.StartAsync(BenchModels.LinearAnswer, cancellationToken).ConfigureAwait(false);
            var body = BenchModels.LinearRequest;
            _log($"floor-http: one hop (canned v2 answer), {ClosedMode}…");
            results.Add((await generator.ClosedLoopAsync(new LoadTarget([servers.OneHopUri], body, null), Warmup, Duration, cancellationToken).ConfigureAwait(false))
                .ToResult("floor-http-1hop", "floor-http 1 hop", ClosedMode));
            _log($"floor-http: two hops (forwarder → canned), {ClosedMode}…");
            results.Add((await generator.ClosedLoopAsync(new LoadTarget([servers.TwoHopUri], body, null), Warmup, Duration, cancellationToken).ConfigureAwait(false))
                .ToResult("floor-http-2hop", "floor-http 2 hops", ClosedMode));
        }

        if (_options.Runs("shard") || _options.Runs("router") || _options.Runs("cold") || _options.Runs("zipf") || _options.Runs("isolation") || _options.Runs("hostile"))
        {
            await using var cluster = await BenchCluster.OpenAsync(reuse: true, _options.Shards, _options.ShardCacheBytes, _log, cancellationToken).ConfigureAwait(false);
            report.Cluster = cluster.Description;
            _log($"cluster: {cluster.Description}; router {cluster.RouterUrl}");
            _log($"publishing {BenchModels.DemoModel} for tenant {BenchCluster.Tenant}…");
            await cluster.PublishAsync([BenchModels.DemoModel], _ => DemoModels.Linear(), 1, _log, cancellationToken).ConfigureAwait(false);
            var routerUri = cluster.RouterInferUri(BenchModels.DemoModel);
            await generator.WaitAnsweredAsync(routerUri, BenchModels.LinearRequest, cluster.ApiKey, _log, cancellationToken).ConfigureAwait(false);

            if (_options.Runs("shard"))
            {
                var shardBase = await cluster.ShardUrlAsync(generator.Client, BenchModels.DemoModel, cancellationToken).ConfigureAwait(false);
                var shardUri = new Uri(shardBase, $"/v2/models/{BenchModels.DemoModel}/versions/1/infer");
                await generator.WaitAnsweredAsync(shardUri, BenchModels.LinearRequest, cluster.ApiKey, _log, cancellationToken).ConfigureAwait(false);
                await ClosedAndOpenAsync(generator, "shard", new LoadTarget([shardUri], BenchModels.LinearRequest, cluster.ApiKey), results, cancellationToken).ConfigureAwait(false);
            }

            if (_options.Runs("router"))
            {
                await ClosedAndOpenAsync(generator, "router", new LoadTarget([routerUri], BenchModels.LinearRequest, cluster.ApiKey), results, cancellationToken).ConfigureAwait(false);
            }

            if (_options.Runs("cold"))
            {
                results.AddRange(await ColdAsync(generator, cluster, cancellationToken).ConfigureAwait(false));
            }

            if (_options.Runs("zipf"))
            {
                results.Add(await ZipfAsync(generator, cluster, cancellationToken).ConfigureAwait(false));
            }

            if (_options.Runs("isolation"))
            {
                results.AddRange(await new IsolationScenario(_options, _log).RunAsync(generator, cluster, cancellationToken).ConfigureAwait(false));
            }

            if (_options.Runs("hostile"))
            {
                results.AddRange(await new HostileScenario(_options, _log).RunAsync(generator, cluster, cancellationToken).ConfigureAwait(false));
            }
        }

        if (_options.Runs("batching"))
        {
            results.AddRange(await new BatchingScenario(_options, _log).RunAsync(generator, cancellationToken).ConfigureAwait(false));
        }

        if (_options.Runs("density"))
        {
            results.Add(await DensityAsync(generator, cancellationToken).ConfigureAwait(false));
        }

        if (_options.Runs("fleet"))
        {
            results.AddRange(await new FleetScenario(_options, _log).RunAsync(generator, cancellationToken).ConfigureAwait(false));
        }

        report.Seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        report.Targets.AddRange(TargetCheck.Evaluate(results));
        return report;
    }

    private async Task ClosedAndOpenAsync(HttpLoadGenerator generator, string scenario, LoadTarget target, List<ScenarioResult> results, CancellationToken cancellationToken)
    {
        _log($"{scenario}: {ClosedMode} (maximum throughput)…");
        var closed = (await generator.ClosedLoopAsync(target, Warmup, Duration, cancellationToken).ConfigureAwait(false)).ToResult(scenario + "-closed", scenario, ClosedMode);
        results.Add(closed);
        var rate = _options.Rate ?? Math.Max(1, Math.Round(closed.Throughput / 2));
        var mode = string.Create(CultureInfo.InvariantCulture, $"open-loop, {rate:0} req/s{(_options.Rate is null ? " (half the maximum)" : "")}");
        _log($"{scenario}: {mode}…");
        var open = (await generator.OpenLoopAsync(target, rate, Warmup, Duration, cancellationToken).ConfigureAwait(false)).ToResult(scenario + "-open", scenario, mode);
        open.TargetRate = rate;
        results.Add(open);
    }

    /// <summary>
    /// Publishes fresh ~1 MB models and times the first request of each through the router (a load from Blob);
    /// then unloads each from its replicas and times the next request (a reload from the shard's disk tier).
    /// </summary>
    private async Task<ScenarioResult[]> ColdAsync(HttpLoadGenerator generator, BenchCluster cluster, CancellationToken cancellationToken)
    {
        var count = _options.ColdModels;
        var names = Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"cold-{_runId}-{i:000}")).ToArray();
        _log($"cold: publishing {count} fresh ~1 MiB models ({_options.PublishParallelism} at a time)…");
        await cluster.PublishAsync(names, i => BenchModels.OneMegabyte((i * 7919) + _runId.GetHashCode(StringComparison.Ordinal)), _options.PublishParallelism, _log, cancellationToken).ConfigureAwait(false);
        var body = BenchModels.OneMegabyteRequest();
        var modelNote = $"MatMul x·W, W FP32 [512,512], {BenchModels.OneMegabyte(0).Length:N0} bytes";

        _log("cold: the first request of each, one at a time (a load from Blob)…");
        var blob = await FirstRequestsAsync(generator, cluster, names, body, "cold", $"first request of {count} fresh 1 MiB models, via router", ModelSourceBlob, cancellationToken).ConfigureAwait(false);
        blob.Notes["model"] = modelNote;

        // The shard writes a loaded model's bytes to its disk tier off the request's path; give those writes
        // a moment, then drop every session so the next request has to load again.
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        _log("cold: unloading each from its replicas, then the first request again (a load from the disk tier)…");
        foreach (var name in names)
        {
            await cluster.UnloadEverywhereAsync(generator.Client, name, cancellationToken).ConfigureAwait(false);
        }

        var disk = await FirstRequestsAsync(generator, cluster, names, body, "cold-disk", $"first request of {count} unloaded 1 MiB models, via router", ModelSourceDisk, cancellationToken).ConfigureAwait(false);
        disk.Notes["model"] = modelNote;

        // The same requests once more, now cache hits: what of a cold request is the load and what is the request.
        var warm = await FirstRequestsAsync(generator, cluster, names, body, "cold-warm", "warm", "(cache hit)", cancellationToken).ConfigureAwait(false);
        disk.Notes["warm, for comparison"] = string.Create(CultureInfo.InvariantCulture, $"the same requests as cache hits: p50 {warm.P50Ms:0.00} ms, max {warm.MaxMs:0.00} ms");
        blob.Metrics["warm_p50_ms"] = warm.P50Ms;
        disk.Metrics["warm_p50_ms"] = warm.P50Ms;
        return [blob, disk];
    }

    private const string ModelSourceBlob = "blob";
    private const string ModelSourceDisk = "disk";

    /// <summary>Times one request per model, one at a time, and the shard's own load times for them from its log.</summary>
    private static async Task<ScenarioResult> FirstRequestsAsync(
        HttpLoadGenerator generator, BenchCluster cluster, string[] names, byte[] body, string id, string mode, string expectedSource, CancellationToken cancellationToken)
    {
        var run = new LoadRun(names.Length);
        var sources = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var started = Stopwatch.GetTimestamp();
        foreach (var name in names)
        {
            var (status, hit, source, ms) = await generator.SendOnceWithSourceAsync(cluster.RouterInferUri(name), body, cluster.ApiKey, cancellationToken).ConfigureAwait(false);
            if (status != 200)
            {
                run.NoteError($"HTTP {status} for {name}");
            }

            var key = source ?? (hit == true ? "(cache hit)" : "(not said)");
            sources[key] = sources.GetValueOrDefault(key) + 1;
            run.Record(ms, status == 200, hit);
        }

        run.Seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var result = run.ToResult(id, "cold", mode);
        result.Throughput = 0;
        result.Notes["x-cache"] = $"{run.Misses} miss, {run.Hits} hit";
        result.Notes["x-load-source"] = string.Join(", ", sources.Select(pair => $"{pair.Key} {pair.Value}"));
        if (sources.GetValueOrDefault(expectedSource) != names.Length)
        {
            result.Notes["warning"] = $"not every request loaded from {expectedSource}: the percentiles mix sources";
        }

        var loads = ShardLoadTimes(cluster.LogsPath, names, expectedSource);
        if (loads.Length > 0)
        {
            Array.Sort(loads);
            result.Metrics["load_p50_ms"] = LatencyStats.Percentile(loads, 50);
            result.Metrics["load_max_ms"] = loads[^1];
            var what = expectedSource == ModelSourceDisk ? "disk read + session" : "blob download + session";
            result.Notes["load in shard (log)"] = string.Create(CultureInfo.InvariantCulture, $"p50 {result.Metrics["load_p50_ms"]:0.0} ms, max {loads[^1]:0.0} ms ({loads.Length} loads: {what})");
        }

        return result;
    }

    /// <summary>Tiny models with zipf popularity through the router, with a cache budget smaller than the set.</summary>
    private async Task<ScenarioResult> ZipfAsync(HttpLoadGenerator generator, BenchCluster cluster, CancellationToken cancellationToken)
    {
        var count = _options.Models;
        var names = Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"zipf-{i:00000}")).ToArray();
        _log($"zipf: publishing {count} tiny models ({_options.PublishParallelism} at a time; already published ones are skipped)…");
        var publishStarted = Stopwatch.GetTimestamp();
        await cluster.PublishAsync(names, BenchModels.Tiny, _options.PublishParallelism, _log, cancellationToken).ConfigureAwait(false);
        var publishSeconds = Stopwatch.GetElapsedTime(publishStarted).TotalSeconds;
        var sampler = new ZipfSampler(count, _options.Zipf);
        var uris = names.Select(cluster.RouterInferUri).ToArray();
        var target = new LoadTarget(uris, BenchModels.LinearRequest, cluster.ApiKey, sampler.Sample);
        var mode = string.Create(CultureInfo.InvariantCulture, $"{ClosedMode}, zipf {_options.Zipf} over {count} models, via router");
        _log($"zipf: {mode}…");
        var run = await generator.ClosedLoopAsync(target, Warmup, Duration, cancellationToken).ConfigureAwait(false);
        var result = run.ToResult("zipf", "zipf", mode);
        var answered = run.Hits + run.Misses;
        var hitRate = answered > 0 ? (double)run.Hits / answered : 0;
        result.Metrics["hit_rate"] = hitRate;
        result.Notes["hit rate (x-cache)"] = string.Create(CultureInfo.InvariantCulture, $"{hitRate:P1} ({run.Hits:N0} hit, {run.Misses:N0} miss)");
        // What the shards hold at the end, by the bytes they charge (measured per session at load).
        var stats = await cluster.ShardStatsAsync(generator.Client, cancellationToken).ConfigureAwait(false);
        var sessions = stats.Sum(s => s.Sessions);
        var charged = stats.Sum(s => s.ResidentBytes);
        var resident = sessions > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{sessions:N0} sessions resident at the end, charged {charged / (double)sessions:N0} B each on average (measured at load)")
            : "shard stats not available";
        result.Notes["cache"] = cluster.Owned
            ? string.Create(CultureInfo.InvariantCulture, $"{_options.ShardCacheBytes / (1024.0 * 1024):0.#} MiB per shard × {cluster.State.Shards.Count} shards; {resident}")
            : "the running cluster's own budget (start none to get a budget smaller than the set); " + resident;
        result.Notes["publish"] = string.Create(CultureInfo.InvariantCulture, $"{count} models in {publishSeconds:0} s");
        return result;
    }

    /// <summary>A one-shard cluster of its own: RSS of the shard before and after loading K tiny models.</summary>
    private async Task<ScenarioResult> DensityAsync(HttpLoadGenerator generator, CancellationToken cancellationToken)
    {
        const int Warm = 16;
        var count = Math.Max(_options.Models, Warm * 2);
        _log("density: starting a one-shard cluster of its own…");
        await using var cluster = await BenchCluster.OpenAsync(reuse: false, 1, 8L * 1024 * 1024 * 1024, _log, cancellationToken).ConfigureAwait(false);
        var shardPid = cluster.State.Shards[0].Pid;
        var names = Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"dense-{i:00000}")).ToArray();
        _log($"density: publishing {count} tiny models ({BenchModels.Tiny(0).Length} bytes each)…");
        await cluster.PublishAsync(names, BenchModels.Tiny, _options.PublishParallelism, _log, cancellationToken).ConfigureAwait(false);

        // Load a few first, so one-time costs (JIT, ORT's first session, pools) are not charged to the models.
        var run = new LoadRun(count);
        await LoadEachAsync(generator, cluster, names[..Warm], null, cancellationToken).ConfigureAwait(false);
        await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
        var before = ProcessMemory.ResidentBytes(shardPid) ?? 0;
        _log($"density: shard RSS {before / (1024.0 * 1024):0.0} MiB with {Warm} models; loading {count - Warm} more through the router…");
        var started = Stopwatch.GetTimestamp();
        await LoadEachAsync(generator, cluster, names[Warm..], run, cancellationToken).ConfigureAwait(false);
        run.Seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await Task.Delay(2000, cancellationToken).ConfigureAwait(false);
        var after = ProcessMemory.ResidentBytes(shardPid) ?? 0;
        var loaded = count - Warm;
        var perModel = (after - before) / (double)loaded;
        var result = run.ToResult("density", "density", $"first request of {loaded} tiny models, 8 in flight, 1 shard");
        result.Plot = false;
        result.Metrics["rss_before_bytes"] = before;
        result.Metrics["rss_after_bytes"] = after;
        result.Metrics["bytes_per_model"] = perModel;
        result.Metrics["models"] = count;
        result.Notes["shard RSS"] = string.Create(CultureInfo.InvariantCulture, $"{before / (1024.0 * 1024):0.0} MiB with {Warm} models → {after / (1024.0 * 1024):0.0} MiB with {count}");
        result.Notes["resident bytes per model"] = string.Create(CultureInfo.InvariantCulture, $"{perModel / 1024:0.0} KiB (model file {BenchModels.Tiny(0).Length} B)");
        return result;
    }

    private static async Task LoadEachAsync(HttpLoadGenerator generator, BenchCluster cluster, string[] names, LoadRun? run, CancellationToken cancellationToken)
    {
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (name, ct) =>
        {
            var (status, hit, ms) = await generator.SendOnceAsync(cluster.RouterInferUri(name), BenchModels.LinearRequest, cluster.ApiKey, ct).ConfigureAwait(false);
            if (status != 200)
            {
                run?.NoteError($"HTTP {status} for {name}");
            }

            run?.Record(ms, status == 200, hit);
        }).ConfigureAwait(false);
    }

    /// <summary>Load times the shards logged ("Loaded bench/{model}/1 (… bytes) [from …] in X ms") for these models.</summary>
    private static double[] ShardLoadTimes(string logsPath, IReadOnlyCollection<string> models, string source)
    {
        var wanted = new HashSet<string>(models, StringComparer.Ordinal);
        var times = new List<double>();
        if (!Directory.Exists(logsPath))
        {
            return [];
        }

        foreach (var file in Directory.GetFiles(logsPath, "shard-*.log"))
        {
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (reader.ReadLine() is { } line)
                {
                    var match = LoadedLine().Match(line);
                    if (match.Success && wanted.Contains(match.Groups["model"].Value) && match.Groups["source"].Value == source
                        && double.TryParse(match.Groups["ms"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var ms))
                    {
                        times.Add(ms);
                    }
                }
            }
            catch (IOException)
            {
            }
        }

        return [.. times];
    }

    [GeneratedRegex(@"Loaded bench/(?<model>[a-z0-9\-]+)/1 \(\d+ bytes\)(?: from (?<source>\S+))? in (?<ms>[0-9.]+) ms")]
    private static partial Regex LoadedLine();
}
