using System.Globalization;
using Spectre.Console;

namespace Serverless.Cli.Simulation;

/// <summary>The simulation report as one table: measure, value, and what the arithmetic expects.</summary>
internal static class ReportTable
{
    public static Table Build(SimulationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var o = report.Options;
        var table = new Table().AddColumn("measure").AddColumn("value").AddColumn("expected / note");
        void Row(string measure, string value, string note = "") => table.AddRow(Markup.Escape(measure), Markup.Escape(value), Markup.Escape(note));
        void Section(string title) => table.AddRow($"[bold]{Markup.Escape(title)}[/]", "", "");

        Section("fleet");
        Row("models / tenants", $"{N(o.Models)} / {N(o.Tenants)}", "model i belongs to tenant i mod tenants");
        Row("shards, k, replicas R", $"{o.Shards}, {o.K}, {o.Replicas}", "placement: RendezvousPlacement.SelectReplicas");
        Row("requests", $"{Rps(o.Rps)} rps, zipf s = {o.Zipf.ToString("0.###", CultureInfo.InvariantCulture)}", $"hottest model {Rps(report.Scaling.HottestModelRps)} rps ({P(report.Scaling.HottestModelRps / o.Rps)})");

        Section("before per-model scaling");
        Row("model replicas per shard", MinMeanMax(report.ModelsPerShard, N), $"max/mean {R(report.ModelsPerShard.MaxOverMean)}");
        Row("load per shard (rps)", MinMeanMax(report.LoadBefore, Rps), $"max/mean {R(report.LoadBefore.MaxOverMean)}");
        Row("hottest shard", $"{report.Scaling.HottestShardBefore}: {Rps(report.Scaling.HottestShardBeforeRps)} rps", "");

        Section("after per-model scaling");
        Row("models scaled out", N(report.Scaling.ScaledModels), $"ScalingPolicy: {Rps(o.RequestsPerReplica)} rps per replica, max {o.MaxReplicas}");
        Row("model replicas", $"{N(report.Scaling.TotalReplicasBefore)} -> {N(report.Scaling.TotalReplicasAfter)}", $"per shard: {MinMeanMax(report.ModelsPerShardAfterScaling, N)}");
        Row("hottest model's replicas", N(report.Scaling.HottestModelReplicas), $"{Rps(report.Scaling.HottestModelRps / Math.Max(1, report.Scaling.HottestModelReplicas))} rps each");
        Row("load per shard (rps)", MinMeanMax(report.LoadAfter, Rps), $"max/mean {R(report.LoadBefore.MaxOverMean)} -> {R(report.LoadAfter.MaxOverMean)}");
        Row("hottest shard", $"{report.Scaling.HottestShardAfter}: {Rps(report.Scaling.HottestShardAfterRps)} rps",
            $"{R(report.Scaling.HottestShardBeforeRps / Math.Max(1e-9, report.Scaling.HottestShardAfterRps))}x lower");

        foreach (var move in new[] { report.ShardAdded, report.ShardRemoved })
        {
            Section($"{move.Change} ({move.ShardsBefore} -> {move.ShardsAfter} shards)");
            Row("models moved", $"{N(move.Moved)} ({P(move.MovedShare)})",
                move.ExpectedShare is { } expected ? $"expected {P(expected)}; 1/N would be {P(1.0 / Math.Max(move.ShardsBefore, move.ShardsAfter))}" : "");
            Row("load moved", P(move.MovedRpsShare), "");
            Row(move.Change.StartsWith("add", StringComparison.Ordinal) ? "  onto the new shard" : "  off the removed shard", N(move.Direct), "");
            Row("  between shards of a reshuffled tenant", N(move.WithinShuffleShard), $"{N(move.TenantsReshuffled)} tenants' shuffle shard changed");
            Row("  anything else", N(move.Unexplained), "must be 0");
        }

        var b = report.BlastRadius;
        Section("blast radius of a bad tenant");
        Row("other tenants sharing >= 1 shard", $"mean {P(b.OverlapAnyMean)}, max {P(b.OverlapAnyMax)}", $"1 - C(N-k,k)/C(N,k) = {P(b.ExpectedOverlapAny)}");
        Row("other tenants sharing all k shards", $"mean {P4(b.FullCoverMean)}, max {P4(b.FullCoverMax)}", $"1/C(N,k) = 1/{N(b.Combinations)} = {P4(b.ExpectedFullCover)}");
        Row("tenants with a full twin", $"{N(b.TenantsWithFullTwin)} of {N(b.SampledTenants)} sampled", "another tenant has exactly the same k shards");

        foreach (var (name, cache) in new[] { ("before scaling", report.CacheBefore), ("after scaling", report.CacheAfter) })
        {
            Section($"session cache, {name}");
            Row("hit rate", P(cache.HitRate), $"LRU of {N(cache.CacheModels)} models per shard; {N(cache.Requests)} sampled requests, 10% warm-up");
            Row("hit rate per shard", $"min {P(cache.HitRatePerShard.Min)}, mean {P(cache.HitRatePerShard.Mean)}, max {P(cache.HitRatePerShard.Max)}", "");
        }

        Section("run");
        Row("SelectReplicas calls", N(report.PlacementCalls), $"{Environment.ProcessorCount} cores");
        Row("time", $"{report.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s", "");
        foreach (var timing in report.Timings)
        {
            Row($"  {timing.Phase}", $"{timing.Seconds.ToString("0.00", CultureInfo.InvariantCulture)} s", "");
        }
        return table;
    }

    private static string MinMeanMax(DistributionStats stats, Func<double, string> format) =>
        $"min {format(stats.Min)}, mean {format(stats.Mean)}, max {format(stats.Max)}";

    private static string N(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string N(int value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string R(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    private static string P(double share) => (share * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%";

    private static string P4(double share) => (share * 100).ToString("0.0000", CultureInfo.InvariantCulture) + "%";

    private static string Rps(double value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
