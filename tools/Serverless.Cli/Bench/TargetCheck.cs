using System.Globalization;

namespace Serverless.Cli.Bench;

/// <summary>
/// The targets of issue 5, checked against one run's results. p50s of the floors and of shard/router are
/// those of the closed-loop phases (the same connections, so the same queueing in each); the p99/p50
/// target is the router's open loop at half its maximum.
/// </summary>
internal static class TargetCheck
{
    public const double TwoGiB = 2.0 * 1024 * 1024 * 1024;
    public const int DensityTarget = 20_000;

    public static IReadOnlyList<TargetVerdict> Evaluate(IReadOnlyList<ScenarioResult> results)
    {
        ScenarioResult? Find(string id) => results.FirstOrDefault(r => r.Id == id);
        var ort = Find("floor-ort");
        var oneHop = Find("floor-http-1hop");
        var twoHop = Find("floor-http-2hop");
        var shard = Find("shard-closed");
        var router = Find("router-closed");
        var routerOpen = Find("router-open");
        var cold = Find("cold");
        var coldDisk = Find("cold-disk");
        var density = Find("density");
        var verdicts = new List<TargetVerdict>();

        verdicts.Add(shard is null || oneHop is null || ort is null
            ? Missing("shard direct p50 ≤ 1.5 × (one-hop floor p50 + ORT floor p50)")
            : AtMost("shard direct p50 ≤ 1.5 × (one-hop floor p50 + ORT floor p50)", shard.P50Ms, 1.5 * (oneHop.P50Ms + ort.P50Ms), "ms"));
        verdicts.Add(router is null || twoHop is null || ort is null
            ? Missing("router p50 ≤ 1.5 × (two-hop floor p50 + ORT floor p50)")
            : AtMost("router p50 ≤ 1.5 × (two-hop floor p50 + ORT floor p50)", router.P50Ms, 1.5 * (twoHop.P50Ms + ort.P50Ms), "ms"));
        verdicts.Add(router is null || twoHop is null
            ? Missing("router max throughput ≥ 50% of the two-hop floor's")
            : AtLeast("router max throughput ≥ 50% of the two-hop floor's", router.Throughput, 0.5 * twoHop.Throughput, "req/s"));
        verdicts.Add(routerOpen is null
            ? Missing("router p99 at half its max rate ≤ 3 × p50")
            : AtMost("router p99 at half its max rate ≤ 3 × p50", routerOpen.P99Ms, 3 * routerOpen.P50Ms, "ms"));
        verdicts.Add(cold is null
            ? Missing("cold load of a 1 MB model from Blob: p50 ≤ 25 ms")
            : AtMost("cold load of a 1 MB model from Blob: p50 ≤ 25 ms (first request via router)", cold.P50Ms, 25, "ms"));
        verdicts.Add(coldDisk is null
            ? Missing("cold load of a 1 MB model from the disk tier: p50 ≤ 5 ms")
            : AtMost("cold load of a 1 MB model from the disk tier: p50 ≤ 5 ms (first request via router)", coldDisk.P50Ms, 5, "ms"));
        if (density is not null && density.Metrics.TryGetValue("bytes_per_model", out var perModel) && perModel > 0)
        {
            var baseline = density.Metrics["rss_before_bytes"];
            var capacity = (TwoGiB - baseline) / perModel;
            verdicts.Add(new TargetVerdict(
                "≥ 20,000 tiny models resident in one shard within 2 GiB (extrapolated)",
                string.Create(CultureInfo.InvariantCulture, $"{capacity:N0} models ({perModel / 1024:0.0} KiB each over a {baseline / (1024 * 1024):0} MiB baseline, from {density.Metrics["models"]:N0})"),
                "20,000",
                capacity >= DensityTarget,
                capacity / DensityTarget));
        }
        else
        {
            verdicts.Add(Missing("≥ 20,000 tiny models resident in one shard within 2 GiB"));
        }

        // Issue 8's isolation target, checked when the isolation scenario ran.
        if (Find("isolation-alone") is { } alone && Find("isolation-flood") is { } during)
        {
            verdicts.Add(AtMost("quiet tenant's p99 while a neighbour floods ≤ 2 × its p99 alone", during.P99Ms, 2 * alone.P99Ms, "ms"));
        }

        // Issue 15's targets, checked when the hostile scenario ran.
        if (Find("hostile-alone") is { } real && Find("hostile-attack") is { } attacked)
        {
            verdicts.Add(AtMost("real tenant's p99 under the hostile mix ≤ 2 × its p99 alone", attacked.P99Ms, 2 * real.P99Ms, "ms"));
            foreach (var (name, growth) in attacked.Metrics.Where(m => m.Key.StartsWith("rss_peak_growth_bytes_shard", StringComparison.Ordinal)))
            {
                // The issue asks it of 1,000 shape bombs (Security/RequestCostTests); here of the whole mix, huge outputs included.
                verdicts.Add(AtMost($"{name["rss_peak_growth_bytes_".Length..]}'s RSS under the whole attack mix within 64 MiB of before", growth / (1024.0 * 1024), 64, "MiB"));
            }
        }

        if (Find("hostile-junk") is { } junk)
        {
            verdicts.Add(AtLeast("made-up names answered at ≥ 50% of a real model's rate", junk.Metrics["junk_vs_real"] * 100, 50, "%"));
            verdicts.Add(AtMost(
                string.Create(CultureInfo.InvariantCulture, $"router RSS growth over {junk.Metrics["junk_requests"]:N0} junk requests ≤ 64 MiB"),
                junk.Metrics["router_rss_growth_bytes"] / (1024.0 * 1024),
                64,
                "MiB"));
        }

        // Issue 17's targets, checked when the fleet scenario ran.
        if (Find("fleet-publish") is { } publish)
        {
            verdicts.Add(AtLeast("bulk publish ≥ 200 tiny models/s", publish.Metrics["models_per_s"], 200, "models/s"));
            foreach (var (name, growth) in publish.Metrics.Where(m => m.Key.StartsWith("rss_growth_", StringComparison.Ordinal)))
            {
                verdicts.Add(AtMost($"{name["rss_growth_".Length..]}'s RSS at {publish.Requests:N0} registered models within 10% of its RSS at 1,000", growth * 100, 110, "%"));
            }
        }

        if (Find("fleet-zipf") is { } fleet)
        {
            if (fleet.Metrics.TryGetValue("miss_p50_ms", out var missP50))
            {
                verdicts.Add(AtMost("fleet zipf: miss p50 ≤ 10 ms", missP50, 10, "ms"));
                verdicts.Add(AtMost("fleet zipf: miss p99 ≤ 50 ms", fleet.Metrics["miss_p99_ms"], 50, "ms"));
            }
            else
            {
                verdicts.Add(Missing("fleet zipf: miss p50 ≤ 10 ms, p99 ≤ 50 ms (no miss answered)"));
            }

            verdicts.Add(AtMost("fleet zipf: overall p99 ≤ 50 ms", fleet.P99Ms, 50, "ms"));
        }

        if (Find("fleet-cold-burst") is { } burst)
        {
            verdicts.Add(AtMost("500-model cold burst: p99 ≤ 4 × a single cold load", burst.P99Ms, 4 * burst.Metrics["single_cold_p50_ms"], "ms"));
        }

        return verdicts;
    }

    private static TargetVerdict Missing(string target) => new(target, "not measured", "", null, null);

    private static TargetVerdict AtMost(string target, double measured, double limit, string unit) =>
        new(target, Format(measured, unit), Format(limit, unit), measured <= limit, limit > 0 ? measured / limit : null);

    private static TargetVerdict AtLeast(string target, double measured, double limit, string unit) =>
        new(target, Format(measured, unit), Format(limit, unit), measured >= limit, limit > 0 ? measured / limit : null);

    private static string Format(double value, string unit) =>
        unit == "ms" ? value.ToString("0.000", CultureInfo.InvariantCulture) + " ms" : value.ToString("N0", CultureInfo.InvariantCulture) + " " + unit;
}
