namespace Serverless.Cli.Bench;

/// <summary>One measured phase of a scenario: latency percentiles, throughput, errors and notes.</summary>
internal sealed class ScenarioResult
{
    /// <summary>Stable id, e.g. <c>router-closed</c>, used by the target checks.</summary>
    public string Id { get; set; } = "";

    public string Scenario { get; set; } = "";

    /// <summary>How it was driven: <c>closed-loop 32 conn</c>, <c>open-loop 1500 rps</c>, <c>in-process</c>, …</summary>
    public string Mode { get; set; } = "";

    public long Requests { get; set; }

    public long Errors { get; set; }

    /// <summary>True when this phase's errors are the point (a tenant flooding past its quota gets 429s); they do not fail the run.</summary>
    public bool ErrorsExpected { get; set; }

    public double Seconds { get; set; }

    public double Throughput { get; set; }

    public double? TargetRate { get; set; }

    public double P50Ms { get; set; }

    public double P90Ms { get; set; }

    public double P99Ms { get; set; }

    public double P999Ms { get; set; }

    public double MaxMs { get; set; }

    public double MeanMs { get; set; }

    /// <summary>Whether the curve belongs on the latency plot.</summary>
    public bool Plot { get; set; } = true;

    /// <summary>Scenario-specific figures (hit rate, bytes per model, …).</summary>
    public Dictionary<string, string> Notes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Scenario-specific numbers the target checks read (bytes per model, hit rate, …).</summary>
    public Dictionary<string, double> Metrics { get; set; } = new(StringComparer.Ordinal);

    public List<PercentilePoint> Curve { get; set; } = [];

    /// <summary>Fills the percentiles and curve from latencies in milliseconds (sorted in place).</summary>
    public ScenarioResult WithLatencies(double[] latenciesMs)
    {
        ArgumentNullException.ThrowIfNull(latenciesMs);
        Array.Sort(latenciesMs);
        P50Ms = LatencyStats.Percentile(latenciesMs, 50);
        P90Ms = LatencyStats.Percentile(latenciesMs, 90);
        P99Ms = LatencyStats.Percentile(latenciesMs, 99);
        P999Ms = LatencyStats.Percentile(latenciesMs, 99.9);
        MaxMs = latenciesMs.Length == 0 ? 0 : latenciesMs[^1];
        MeanMs = latenciesMs.Length == 0 ? 0 : latenciesMs.Average();
        Curve = LatencyStats.Curve(latenciesMs);
        return this;
    }
}
