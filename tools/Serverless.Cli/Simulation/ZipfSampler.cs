namespace Serverless.Cli.Simulation;

/// <summary>
/// Zipf(s) over ranks 1…n: rank r has probability (1/r^s) / H(n, s). Samples by binary search in the
/// cumulative distribution, so a draw costs one random number and about log2(n) comparisons.
/// </summary>
internal sealed class ZipfSampler
{
    private readonly double[] _cumulative;

    public ZipfSampler(int count, double exponent)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Probabilities = new double[count];
        _cumulative = new double[count];
        var total = 0.0;
        for (var r = 0; r < count; r++)
        {
            Probabilities[r] = 1.0 / Math.Pow(r + 1, exponent);
            total += Probabilities[r];
        }

        var running = 0.0;
        for (var r = 0; r < count; r++)
        {
            Probabilities[r] /= total;
            running += Probabilities[r];
            _cumulative[r] = running;
        }

        _cumulative[count - 1] = 1.0;
    }

    /// <summary>Probability of each rank, index 0 = the most popular.</summary>
    public double[] Probabilities { get; }

    public int Count => _cumulative.Length;

    /// <summary>A rank, 0-based (0 = the most popular).</summary>
    public int Sample(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var u = random.NextDouble();
        var index = Array.BinarySearch(_cumulative, u);
        // Rank r holds u in (cumulative[r-1], cumulative[r]]; when u is not found, ~index is the first entry above it.
        return Math.Min(index >= 0 ? index : ~index, _cumulative.Length - 1);
    }
}
