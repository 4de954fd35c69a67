using System.Globalization;
using Serverless.Core.Placement;

namespace Serverless.Cli.Bench;

/// <summary>
/// <c>isolation</c>: a quiet tenant's latency alone, then while a noisy tenant on other shards floods the
/// router at ten times its quota. Both tenants have shuffle shards of one shard, chosen disjoint with
/// the placement code itself, so what the quiet tenant still shares is the router (and this machine's cores).
/// </summary>
internal sealed class IsolationScenario
{
    public const string NoisyTenant = "bench-noisy";
    public const int NoisyRequestsPerSecond = 200;

    /// <summary>The quiet tenant's open-loop rate: steady traffic, far under any quota.</summary>
    public const double QuietRate = 100;

    /// <summary>
    /// The noisy tenant sends ten times its quota, open-loop. (A closed loop as fast as the machine goes
    /// would measure this 2-core machine shared by load generator, router and shards, not isolation.)
    /// </summary>
    public const double FloodRate = 10 * NoisyRequestsPerSecond;

    private readonly BenchOptions _options;
    private readonly Action<string> _log;

    public IsolationScenario(BenchOptions options, Action<string> log)
    {
        _options = options;
        _log = log;
    }

    public async Task<IReadOnlyList<ScenarioResult>> RunAsync(HttpLoadGenerator generator, BenchCluster cluster, CancellationToken cancellationToken)
    {
        var shardIds = cluster.State.Shards.Select(s => s.Id).ToList();
        if (shardIds.Count < 2)
        {
            _log("isolation: skipped, it needs at least 2 shards (--shards 2)");
            return [];
        }

        var noisyShard = RendezvousPlacement.Top(RendezvousPlacement.TenantKey(NoisyTenant), shardIds, 1)[0];
        var quiet = Enumerable.Range(0, 1000).Select(i => string.Create(CultureInfo.InvariantCulture, $"bench-quiet-{i}"))
            .First(t => RendezvousPlacement.Top(RendezvousPlacement.TenantKey(t), shardIds, 1)[0] != noisyShard);
        var noisyKey = await cluster.AddTenantAsync(NoisyTenant, 1, NoisyRequestsPerSecond, cancellationToken).ConfigureAwait(false);
        var quietKey = await cluster.AddTenantAsync(quiet, 1, 1_000_000, cancellationToken).ConfigureAwait(false);
        _log($"isolation: tenants {NoisyTenant} (quota {NoisyRequestsPerSecond} req/s) and {quiet} on disjoint shards; publishing a tiny model for each…");
        await cluster.PublishAsync(NoisyTenant, ["flood"], BenchModels.Tiny, null, 1, _log, cancellationToken).ConfigureAwait(false);
        await cluster.PublishAsync(quiet, ["calm"], BenchModels.Tiny, null, 1, _log, cancellationToken).ConfigureAwait(false);
        var noisyTarget = new LoadTarget([cluster.RouterInferUri("flood")], BenchModels.LinearRequest, noisyKey);
        var quietTarget = new LoadTarget([cluster.RouterInferUri("calm")], BenchModels.LinearRequest, quietKey);
        await generator.WaitAnsweredAsync(noisyTarget.Uris[0], noisyTarget.Body, noisyKey, _log, cancellationToken).ConfigureAwait(false);
        await generator.WaitAnsweredAsync(quietTarget.Uris[0], quietTarget.Body, quietKey, _log, cancellationToken).ConfigureAwait(false);

        var duration = TimeSpan.FromSeconds(_options.DurationSeconds);
        var warmup = TimeSpan.FromSeconds(_options.WarmupSeconds);
        var quietMode = string.Create(CultureInfo.InvariantCulture, $"open-loop, {QuietRate:0} req/s, via router");
        _log($"isolation: the quiet tenant alone, {quietMode}…");
        var alone = (await generator.OpenLoopAsync(quietTarget, QuietRate, warmup, duration, cancellationToken).ConfigureAwait(false))
            .ToResult("isolation-alone", "quiet tenant alone", quietMode);
        alone.TargetRate = QuietRate;

        _log(string.Create(CultureInfo.InvariantCulture, $"isolation: the quiet tenant again while {NoisyTenant} floods at {FloodRate:0} req/s (10× its quota)…"));
        using var flooder = new HttpLoadGenerator(_options.Connections);
        // The flood starts first and runs a little past the quiet phase, so every measured quiet request meets it.
        var floodTask = flooder.OpenLoopAsync(noisyTarget, FloodRate, warmup, duration + TimeSpan.FromSeconds(1), cancellationToken);
        await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        var during = (await generator.OpenLoopAsync(quietTarget, QuietRate, warmup, duration, cancellationToken).ConfigureAwait(false))
            .ToResult("isolation-flood", "quiet tenant, neighbour flooding", quietMode);
        during.TargetRate = QuietRate;
        var flood = (await floodTask.ConfigureAwait(false)).ToResult("isolation-noisy", "noisy tenant flooding", string.Create(CultureInfo.InvariantCulture, $"open-loop, {FloodRate:0} req/s, via router"));
        flood.Plot = false;
        flood.ErrorsExpected = true;
        flood.Notes["answers"] = string.Create(CultureInfo.InvariantCulture,
            $"{flood.Throughput:N0} req/s answered 200 (quota {NoisyRequestsPerSecond}), {flood.Errors / Math.Max(flood.Seconds, 1e-9):N0} req/s refused (429)");
        if (alone.P99Ms > 0)
        {
            during.Metrics["p99_vs_alone"] = during.P99Ms / alone.P99Ms;
            during.Notes["p99 vs alone"] = string.Create(CultureInfo.InvariantCulture, $"{during.P99Ms / alone.P99Ms:0.00}× ({alone.P99Ms:0.00} → {during.P99Ms:0.00} ms)");
        }

        return [alone, during, flood];
    }
}
