namespace Serverless.Cli.Bench;

/// <summary>Percentiles (nearest rank) of sorted latencies, and the curve the plot draws.</summary>
internal static class LatencyStats
{
    private static readonly double[] CurvePercentiles =
        [50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 98.5, 99, 99.3, 99.5, 99.7, 99.8, 99.9, 99.93, 99.95, 99.97, 99.98, 99.99];

    /// <summary>The nearest-rank percentile of ascending <paramref name="sorted"/>; 0 when empty.</summary>
    public static double Percentile(double[] sorted, double percentile)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Length == 0)
        {
            return 0;
        }

        var rank = (int)Math.Ceiling(percentile / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>Points from p50 to p99.99, only as far as the sample count resolves (at least one sample above).</summary>
    public static List<PercentilePoint> Curve(double[] sorted)
    {
        var points = new List<PercentilePoint>();
        foreach (var p in CurvePercentiles)
        {
            if (sorted.Length == 0 || (1 - (p / 100.0)) * sorted.Length < 1)
            {
                break;
            }

            points.Add(new PercentilePoint(p, Percentile(sorted, p)));
        }

        if (sorted.Length > 1 && (points.Count == 0 || points[^1].Percentile < Math.Min(99.99, 100.0 * (sorted.Length - 1) / sorted.Length)))
        {
            // The last point: the percentile of the largest sample.
            points.Add(new PercentilePoint(Math.Min(99.99, 100.0 * (sorted.Length - 1) / sorted.Length), sorted[^1]));
        }

        return points;
    }
}
