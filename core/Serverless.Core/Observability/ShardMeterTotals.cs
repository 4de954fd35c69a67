using System.Diagnostics.Metrics;

namespace Serverless.Core.Observability;

/// <summary>
/// Running totals of this process's session-cache counters (meter <c>Serverless.Shard</c>: hits, misses,
/// evictions, and the count of loads from <c>serverless.load.duration</c>), read with a
/// <see cref="MeterListener"/> so the instruments stay where they are. Only meters made by this app's
/// <see cref="IMeterFactory"/> are counted. What the shard's stats endpoint answers.
/// </summary>
public sealed class ShardMeterTotals : IDisposable
{
    private readonly MeterListener _listener;
    private readonly IMeterFactory _factory;
    private long _hits;
    private long _misses;
    private long _evictions;
    private long _loads;
    private double _loadMsTotal;

    public ShardMeterTotals(IMeterFactory meterFactory)
    {
        _factory = meterFactory;
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Serverless.Shard" && ReferenceEquals(instrument.Meter.Scope, _factory) && instrument.Name is
                    "serverless.cache.hits" or "serverless.cache.misses" or "serverless.cache.evictions" or "serverless.load.duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            switch (instrument.Name)
            {
                case "serverless.cache.hits": Interlocked.Add(ref _hits, value); break;
                case "serverless.cache.misses": Interlocked.Add(ref _misses, value); break;
                case "serverless.cache.evictions": Interlocked.Add(ref _evictions, value); break;
            }
        });
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "serverless.load.duration")
            {
                Interlocked.Increment(ref _loads);
                lock (_listener)
                {
                    _loadMsTotal += value;
                }
            }
        });
        _listener.Start();
    }

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public long Evictions => Interlocked.Read(ref _evictions);

    public long Loads => Interlocked.Read(ref _loads);

    /// <summary>Mean load time in ms; 0 before the first load.</summary>
    public double MeanLoadMs
    {
        get
        {
            var loads = Loads;
            lock (_listener)
            {
                return loads == 0 ? 0 : Math.Round(_loadMsTotal / loads, 2);
            }
        }
    }

    public void Dispose() => _listener.Dispose();
}
