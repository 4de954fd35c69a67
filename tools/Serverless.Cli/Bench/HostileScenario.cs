using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Serverless.Core.Placement;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Bench;

/// <summary>
/// <c>hostile</c> (issue 15): one tenant with a valid key attacks while another sends real traffic. The attacker's
/// quota is set high on purpose, so every attack reaches the defence behind the quota (the parser, the name sets,
/// the output cap, Kestrel's limits) rather than a 429. Both tenants are placed on the same shard (shuffle shards
/// of one, names chosen with the placement code), so the shard's defences are what keeps them apart.
/// Phases: the real tenant alone (open loop); the same while the attacker sends a mix of shape bombs, made-up model
/// and tenant names, wrong keys and huge-output requests open-loop at <see cref="HostileAttack.Rate"/> from a process of its own, plus slow bodies,
/// oversized bodies and header floods over raw sockets; then a real model's closed-loop rate against made-up names'
/// over <see cref="BenchOptions.JunkRequests"/> distinct junk names (a million by default), with the router's RSS
/// before and after. Every process's RSS is sampled throughout; storage reads come from each process's
/// <c>serverless_storage_reads</c> on /metrics.
/// </summary>
internal sealed partial class HostileScenario
{
    public const string RealTenant = "bench-real";

    /// <summary>The real tenant's open-loop rate: steady traffic.</summary>
    public const double RealRate = 100;

    private readonly BenchOptions _options;
    private readonly Action<string> _log;
    private readonly string _runId = Guid.NewGuid().ToString("N")[..6];

    public HostileScenario(BenchOptions options, Action<string> log)
    {
        _options = options;
        _log = log;
    }

    public async Task<IReadOnlyList<ScenarioResult>> RunAsync(HttpLoadGenerator generator, BenchCluster cluster, CancellationToken cancellationToken)
    {
        var shardIds = cluster.State.Shards.Select(s => s.Id).ToList();
        var realShard = RendezvousPlacement.Top(RendezvousPlacement.TenantKey(RealTenant), shardIds, 1)[0];
        var attacker = Enumerable.Range(0, 1000).Select(i => string.Create(CultureInfo.InvariantCulture, $"bench-attacker-{i}"))
            .First(t => RendezvousPlacement.Top(RendezvousPlacement.TenantKey(t), shardIds, 1)[0] == realShard);
        var realKey = await cluster.AddTenantAsync(RealTenant, 1, 1_000_000, cancellationToken).ConfigureAwait(false);
        var attackerKey = await cluster.AddTenantAsync(attacker, 1, 1_000_000, cancellationToken).ConfigureAwait(false);
        _log($"hostile: tenants {RealTenant} and {attacker}, both on {realShard}; publishing their models…");
        await cluster.PublishAsync(RealTenant, ["steady"], _ => DemoModels.Linear(), null, 1, _log, cancellationToken).ConfigureAwait(false);
        await cluster.PublishAsync(attacker, [HostileAttack.TargetModel], _ => DemoModels.Linear(), null, 1, _log, cancellationToken).ConfigureAwait(false);
        await cluster.PublishAsync(attacker, [HostileAttack.ExpanderModel], _ => DemoModels.OutputSizedByInput(), """{"maxOutputBytes": 1048576}"""u8.ToArray(), 1, _log, cancellationToken).ConfigureAwait(false);
        var realTarget = new LoadTarget([cluster.RouterInferUri("steady")], BenchModels.LinearRequest, realKey);
        await generator.WaitAnsweredAsync(realTarget.Uris[0], realTarget.Body, realKey, _log, cancellationToken).ConfigureAwait(false);
        await generator.WaitAnsweredAsync(cluster.RouterInferUri(HostileAttack.TargetModel), BenchModels.LinearRequest, attackerKey, _log, cancellationToken).ConfigureAwait(false);

        var duration = TimeSpan.FromSeconds(_options.DurationSeconds);
        var warmup = TimeSpan.FromSeconds(_options.WarmupSeconds);
        var processes = ClusterScrape.Processes(cluster);
        var realMode = string.Create(CultureInfo.InvariantCulture, $"open-loop, {RealRate:0} req/s, via router");

        // 1 and 2, interleaved: the real tenant alone, then under attack, then alone again… (Rounds of each), so a slow
        // spell of this machine lands on both sides rather than on one (alone-then-attack once moved the ratio 1.2–2.6×).
        var tally = new AttackTally();
        var rssBefore = processes.ToDictionary(p => p.Name, p => ProcessMemory.ResidentBytes(p.Pid) ?? 0, StringComparer.Ordinal);
        var rssPeak = new Dictionary<string, long>(rssBefore, StringComparer.Ordinal);
        var attackLatencies = new List<double>();
        var slowCuts = new List<double>();
        var round = TimeSpan.FromSeconds(_options.DurationSeconds / Rounds);
        var aloneRuns = new List<LoadRun>();
        var attackRuns = new List<LoadRun>();
        double aloneSeconds = 0, attackSeconds = 0;
        long readsAlone = 0, readsAttack = 0;
        double gcAlone = 0, gcAttack = 0;
        using var stopSampler = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sampler = ClusterScrape.SampleRssAsync(processes, rssPeak, stopSampler.Token);
        _log(string.Create(CultureInfo.InvariantCulture, $"hostile: the real tenant ({realMode}) alone and while {attacker} attacks at {HostileAttack.Rate:0} req/s plus raw-socket attacks, {Rounds} rounds of {round.TotalSeconds:0.#} s each…"));
        for (var r = 0; r < Rounds; r++)
        {
            var readsBefore = await ClusterScrape.StorageReadsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false);
            var gcBefore = await ClusterScrape.GcPauseSecondsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false);
            var watch = Stopwatch.StartNew();
            aloneRuns.Add(await generator.OpenLoopAsync(realTarget, RealRate, r == 0 ? warmup : TimeSpan.FromSeconds(0.5), round, cancellationToken).ConfigureAwait(false));
            aloneSeconds += watch.Elapsed.TotalSeconds;
            readsAlone += await ClusterScrape.StorageReadsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false) - readsBefore;
            gcAlone += await ClusterScrape.GcPauseSecondsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false) - gcBefore;

            readsBefore = await ClusterScrape.StorageReadsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false);
            gcBefore = await ClusterScrape.GcPauseSecondsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false);
            watch.Restart();
            // The attacker runs in a process of its own, as a real one would (see HostileAttack).
            await using var attackerProcess = await AttackerProcess.StartAsync(cluster.RouterUrl, attacker, attackerKey, string.Create(CultureInfo.InvariantCulture, $"{_runId}r{r}"), cancellationToken).ConfigureAwait(false);
            // The attack starts first and its first second is not measured (the attacker's start, the slow bodies'
            // connections, the first chunked bodies), so every measured request meets the whole mix.
            attackRuns.Add(await generator.OpenLoopAsync(realTarget, RealRate, TimeSpan.FromSeconds(1), round, cancellationToken).ConfigureAwait(false));
            var report = await attackerProcess.StopAsync(cancellationToken).ConfigureAwait(false);
            foreach (var kind in report.Kinds)
            {
                tally.Add(kind);
            }

            attackLatencies.AddRange(report.LatenciesMs);
            slowCuts.AddRange(report.SlowCutSeconds);
            attackSeconds += watch.Elapsed.TotalSeconds;
            readsAttack += await ClusterScrape.StorageReadsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false) - readsBefore;
            gcAttack += await ClusterScrape.GcPauseSecondsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false) - gcBefore;
        }

        await stopSampler.CancelAsync().ConfigureAwait(false);
        await sampler.ConfigureAwait(false);
        var rounds = string.Create(CultureInfo.InvariantCulture, $"{realMode}, {Rounds} rounds interleaved");
        var alone = Merge(aloneRuns).ToResult("hostile-alone", "real tenant alone", rounds);
        alone.TargetRate = RealRate;
        alone.Metrics["storage_reads_per_s"] = readsAlone / aloneSeconds;
        alone.Notes["storage reads"] = string.Create(CultureInfo.InvariantCulture, $"{readsAlone / aloneSeconds:0.0}/s (router and shards)");
        alone.Notes["x-cache"] = string.Create(CultureInfo.InvariantCulture, $"{aloneRuns.Sum(r => r.Misses):N0} miss");
        var during = Merge(attackRuns).ToResult("hostile-attack", "real tenant under attack", rounds);
        // A miss here is the real tenant's model evicted or shed while the attacker ran: what isolation must prevent.
        during.Notes["x-cache"] = string.Create(CultureInfo.InvariantCulture, $"{attackRuns.Sum(r => r.Misses):N0} miss");
        during.Metrics["misses"] = attackRuns.Sum(r => r.Misses);
        during.TargetRate = RealRate;
        during.Metrics["storage_reads_per_s"] = readsAttack / attackSeconds;
        during.Notes["storage reads"] = string.Create(CultureInfo.InvariantCulture, $"{readsAttack / attackSeconds:0.0}/s during the attack (router and shards; {readsAlone / aloneSeconds:0.0}/s alone)");
        // Where a tail may come from: the time the router's and shards' collectors stopped them, per second of each side.
        during.Metrics["gc_pause_ms_per_s"] = gcAttack * 1000 / attackSeconds;
        alone.Metrics["gc_pause_ms_per_s"] = gcAlone * 1000 / aloneSeconds;
        during.Notes["GC pauses"] = string.Create(CultureInfo.InvariantCulture, $"{gcAttack * 1000 / attackSeconds:0.0} ms/s during the attack, {gcAlone * 1000 / aloneSeconds:0.0} ms/s alone (router and shards, dotnet.gc.pause.time)");
        if (alone.P99Ms > 0)
        {
            during.Metrics["p99_vs_alone"] = during.P99Ms / alone.P99Ms;
            during.Notes["p99 vs alone"] = string.Create(CultureInfo.InvariantCulture, $"{during.P99Ms / alone.P99Ms:0.00}× ({alone.P99Ms:0.00} → {during.P99Ms:0.00} ms)");
        }

        foreach (var process in processes)
        {
            var growth = rssPeak[process.Name] - rssBefore[process.Name];
            during.Metrics["rss_peak_growth_bytes_" + process.Name] = growth;
            during.Notes["RSS " + process.Name] = string.Create(CultureInfo.InvariantCulture, $"{rssBefore[process.Name] / Mi:0} MiB before, peak {rssPeak[process.Name] / Mi:0} MiB ({growth / Mi:+0;-0;0} MiB)");
        }

        var attack = new LoadRun(attackLatencies.Count);
        foreach (var ms in attackLatencies)
        {
            attack.Record(ms, true, null);
        }

        attack.Seconds = attackSeconds;
        var attackRow = attack.ToResult("hostile-attacker", "attacker", string.Create(CultureInfo.InvariantCulture, $"open-loop, {HostileAttack.Rate:0} req/s HTTP + raw sockets, via router"));
        attackRow.Plot = false;
        attackRow.Errors = tally.Unexpected;
        attackRow.Metrics["unexpected_answers"] = tally.Unexpected;
        foreach (var (kind, line) in tally.Lines())
        {
            attackRow.Notes[kind] = line;
        }

        if (slowCuts.Count > 0)
        {
            double[] cuts = [.. slowCuts];
            Array.Sort(cuts);
            attackRow.Notes["slow bodies cut after"] = string.Create(CultureInfo.InvariantCulture, $"p50 {LatencyStats.Percentile(cuts, 50):0.0} s, max {cuts[^1]:0.0} s ({cuts.Length} connections)");
        }

        // 3. Made-up names against a real model, closed loop; a million of them for the router's memory.
        var junk = await JunkAsync(generator, cluster, realTarget, attackerKey, cancellationToken).ConfigureAwait(false);
        return [alone, during, attackRow, junk];
    }

    private const double Mi = 1024.0 * 1024;

    /// <summary>Alone and under-attack phases, interleaved; <see cref="BenchOptions.DurationSeconds"/> is split among them.</summary>
    private const int Rounds = 4;

    /// <summary>The phases of one kind as one: every latency, the errors summed, the seconds summed.</summary>
    private static LoadRun Merge(IReadOnlyList<LoadRun> runs)
    {
        var merged = new LoadRun(runs.Sum(r => r.Count));
        foreach (var run in runs)
        {
            var errors = run.Errors;
            foreach (var ms in run.Latencies())
            {
                // The errors are not tied to latencies in a LoadRun: the first ones recorded as failed stand for them.
                merged.Record(ms, errors-- <= 0, null);
            }

            if (run.FirstError is { } error)
            {
                merged.NoteError(error);
            }

            merged.Seconds += run.Seconds;
        }

        return merged;
    }

    private async Task<ScenarioResult> JunkAsync(HttpLoadGenerator generator, BenchCluster cluster, LoadTarget realTarget, string attackerKey, CancellationToken cancellationToken)
    {
        var duration = TimeSpan.FromSeconds(_options.DurationSeconds);
        var warmup = TimeSpan.FromSeconds(_options.WarmupSeconds);
        var closedMode = $"closed-loop, {_options.Connections} conn";
        _log($"hostile: a real model, {closedMode}…");
        var real = (await generator.ClosedLoopAsync(realTarget, warmup, duration, cancellationToken).ConfigureAwait(false)).ToResult("hostile-real-closed", "real model", closedMode);

        var router = cluster.State.Router!;
        var count = _options.JunkRequests;
        _log(string.Create(CultureInfo.InvariantCulture, $"hostile: {count:N0} distinct made-up model names, {closedMode} (at most 10 minutes)…"));
        // Settle first: the router's heap after the phases before, then the junk's own growth.
        GC.Collect();
        await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
        var rssBefore = ProcessMemory.ResidentBytes(router.Pid) ?? 0;
        var rssPeak = new Dictionary<string, long>(StringComparer.Ordinal) { ["router"] = rssBefore };
        var readsBefore = await ClusterScrape.StorageReadsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(TimeSpan.FromMinutes(10));
        var sampler = ClusterScrape.SampleRssAsync([("router", router.Pid)], rssPeak, stop.Token);
        var run = new LoadRun((int)Math.Min(count, 2_000_000));
        var sent = 0L;
        var wrong = 0L;
        string? firstWrong = null;
        var watch = Stopwatch.StartNew();
        var baseUri = cluster.RouterUrl;
        var workers = Enumerable.Range(0, _options.Connections).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref sent);
                if (n > count)
                {
                    return;
                }

                var name = string.Create(CultureInfo.InvariantCulture, $"junk-{_runId}-{n}");
                var started = Stopwatch.GetTimestamp();
                var status = await HostileAttack.SendAsync(generator.Client, new Uri(baseUri, $"/v2/models/{name}/infer"), BenchModels.LinearRequest, attackerKey, null, stop.Token).ConfigureAwait(false);
                run.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, status == 404, null);
                if (status != 404 && Interlocked.Increment(ref wrong) == 1)
                {
                    firstWrong = $"{name}: {status}";
                }
            }
        }, stop.Token)).ToArray();
        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The ten minutes ran out: what was sent counts.
        }

        var seconds = watch.Elapsed.TotalSeconds;
        var done = Math.Min(Interlocked.Read(ref sent), count);
        await stop.CancelAsync().ConfigureAwait(false);
        await sampler.ConfigureAwait(false);
        var reads = await ClusterScrape.StorageReadsAsync(generator.Client, cluster, cancellationToken).ConfigureAwait(false) - readsBefore;
        var rssAfter = ProcessMemory.ResidentBytes(router.Pid) ?? 0;
        run.Seconds = seconds;
        var result = run.ToResult("hostile-junk", "made-up model names", $"{closedMode}, {done:N0} distinct names, via router");
        result.Plot = false;
        result.Throughput = done / seconds;
        result.Errors = Interlocked.Read(ref wrong);
        result.Metrics["junk_requests"] = done;
        result.Metrics["junk_vs_real"] = real.Throughput > 0 ? result.Throughput / real.Throughput : 0;
        result.Metrics["router_rss_growth_bytes"] = rssAfter - rssBefore;
        result.Metrics["router_rss_peak_growth_bytes"] = rssPeak["router"] - rssBefore;
        result.Metrics["storage_reads_per_s"] = reads / seconds;
        result.Notes["vs a real model"] = string.Create(CultureInfo.InvariantCulture, $"{result.Throughput:N0} req/s answered 404 against {real.Throughput:N0} req/s for a real model ({result.Metrics["junk_vs_real"]:P0})");
        result.Notes["router RSS"] = string.Create(CultureInfo.InvariantCulture, $"{rssBefore / Mi:0} MiB before, {rssAfter / Mi:0} MiB after, peak {rssPeak["router"] / Mi:0} MiB ({(rssAfter - rssBefore) / Mi:+0;-0;0} MiB over {done:N0} names)");
        result.Notes["storage reads"] = string.Create(CultureInfo.InvariantCulture, $"{reads:N0} in {seconds:0} s ({reads / seconds:0.0}/s, router and shards)");
        if (firstWrong is not null)
        {
            result.Notes["not 404"] = $"{result.Errors:N0}, e.g. {firstWrong}";
        }

        return result;
    }
}
