using System.Collections.Concurrent;
using System.Diagnostics;

namespace Serverless.Scoring;

/// <summary>
/// Requests this shard has served per model since the last look, and how long they were being served: what
/// per-model scaling and the hot-model list read. Recording is one dictionary lookup and two interlocked adds
/// per request.
/// </summary>
public sealed class ModelTraffic
{
    private ConcurrentDictionary<(string Tenant, string Model), Counter> _counts = new();

    /// <summary>One request served; <paramref name="busyTicks"/> (<see cref="Stopwatch"/> ticks) is how long it was being served.</summary>
    public void Record(string tenant, string model, long busyTicks)
    {
        var counter = _counts.GetOrAdd((tenant, model), static _ => new Counter());
        Interlocked.Increment(ref counter.Requests);
        if (busyTicks > 0)
        {
            Interlocked.Add(ref counter.BusyTicks, busyTicks);
        }
    }

    /// <summary>The traffic since the previous call, and a fresh start.</summary>
    public IReadOnlyDictionary<(string Tenant, string Model), ModelTrafficSample> TakeSnapshot()
    {
        var previous = Interlocked.Exchange(ref _counts, new ConcurrentDictionary<(string Tenant, string Model), Counter>());
        var snapshot = new Dictionary<(string Tenant, string Model), ModelTrafficSample>(previous.Count);
        foreach (var (key, counter) in previous)
        {
            snapshot[key] = new ModelTrafficSample(Interlocked.Read(ref counter.Requests), (double)Interlocked.Read(ref counter.BusyTicks) / Stopwatch.Frequency);
        }

        return snapshot;
    }

    private sealed class Counter
    {
#pragma warning disable CA1051 // Fields, so Interlocked can take them by reference.
        public long Requests;
        public long BusyTicks;
#pragma warning restore CA1051
    }
}
