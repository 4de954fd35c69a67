namespace Serverless.Cli.Simulation;

/// <summary>Min, mean, max and spread of a per-shard quantity.</summary>
internal sealed record DistributionStats(double Min, double Mean, double Max, double StdDev)
{
    /// <summary>Max over mean: 1 is perfectly even.</summary>
    public double MaxOverMean => Mean > 0 ? Max / Mean : 0;

    public static DistributionStats From(ReadOnlySpan<double> values)
    {
        if (values.IsEmpty)
        {
            return new DistributionStats(0, 0, 0, 0);
        }

        double min = double.MaxValue, max = double.MinValue, sum = 0;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            sum += v;
        }

        var mean = sum / values.Length;
        var squares = 0.0;
        foreach (var v in values)
        {
            squares += (v - mean) * (v - mean);
        }

        return new DistributionStats(min, mean, max, Math.Sqrt(squares / values.Length));
    }
}
