using System.Collections.Concurrent;

namespace Serverless.Core.Scoring;

/// <summary>
/// Requests this shard has served per model since the last look: what per-model scaling reads.
/// Counting is one dictionary lookup and one interlocked add per request.
/// </summary>
public sealed class ModelTraffic
{
    private ConcurrentDictionary<(string Tenant, string Model), Counter> _counts = new();

    public void Record(string tenant, string model) =>
        Interlocked.Increment(ref _counts.GetOrAdd((tenant, model), static _ => new Counter()).Value);

    /// <summary>The counts since the previous call, and a fresh start.</summary>
    public IReadOnlyDictionary<(string Tenant, string Model), long> TakeSnapshot()
    {
        var previous = Interlocked.Exchange(ref _counts, new ConcurrentDictionary<(string Tenant, string Model), Counter>());
        var snapshot = new Dictionary<(string Tenant, string Model), long>(previous.Count);
        foreach (var (key, counter) in previous)
        {
            snapshot[key] = Interlocked.Read(ref counter.Value);
        }

        return snapshot;
    }

    private sealed class Counter
    {
#pragma warning disable CA1051 // A field, so Interlocked can take it by reference.
        public long Value;
#pragma warning restore CA1051
    }
}
