namespace Serverless.Scoring;

/// <summary>
/// Which models this shard serves most, with exponential decay (each look halves the old counts), so a
/// model that went quiet drops out. Its top entries go into the shard's row for the next instance to prewarm.
/// </summary>
public sealed class HotModelTracker
{
    public const int Keep = 50;
    private readonly object _gate = new();
    private Dictionary<(string Tenant, string Model), double> _scores = [];

    /// <summary>Adds one interval's request counts.</summary>
    public void Add(IReadOnlyDictionary<(string Tenant, string Model), ModelTrafficSample> traffic)
    {
        lock (_gate)
        {
            var next = new Dictionary<(string Tenant, string Model), double>(_scores.Count + traffic.Count);
            foreach (var (key, score) in _scores)
            {
                if (score >= 0.5)
                {
                    next[key] = score / 2;
                }
            }

            foreach (var (key, sample) in traffic)
            {
                next[key] = next.GetValueOrDefault(key) + sample.Requests;
            }

            _scores = next;
        }
    }

    /// <summary>The hottest models as <c>{tenant}~{model}</c>, comma-separated, hottest first; null when none.</summary>
    public string? Top()
    {
        lock (_gate)
        {
            if (_scores.Count == 0)
            {
                return null;
            }

            return string.Join(',', _scores.OrderByDescending(p => p.Value).Take(Keep).Select(p => $"{p.Key.Tenant}~{p.Key.Model}"));
        }
    }
}
