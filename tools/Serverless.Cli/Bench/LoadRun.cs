namespace Serverless.Cli.Bench;

/// <summary>What one load phase measured: latencies (ms) of the requests in the window, errors and cache answers.</summary>
internal sealed class LoadRun
{
    private readonly object _gate = new();
    private readonly List<double> _latencies;
    private long _errors;
    private long _hits;
    private long _misses;

    public LoadRun(int capacity)
    {
        _latencies = new List<double>(Math.Max(16, capacity));
    }

    public long Errors => Interlocked.Read(ref _errors);

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>The measured window in seconds.</summary>
    public double Seconds { get; set; }

    /// <summary>The first non-success status or exception seen, for the report.</summary>
    public string? FirstError { get; private set; }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _latencies.Count;
            }
        }
    }

    public void Record(double latencyMs, bool ok, bool? cacheHit)
    {
        lock (_gate)
        {
            _latencies.Add(latencyMs);
        }

        if (!ok)
        {
            Interlocked.Increment(ref _errors);
        }

        if (cacheHit == true)
        {
            Interlocked.Increment(ref _hits);
        }
        else if (cacheHit == false)
        {
            Interlocked.Increment(ref _misses);
        }
    }

    public void NoteError(string error)
    {
        lock (_gate)
        {
            FirstError ??= error;
        }
    }

    public double[] Latencies()
    {
        lock (_gate)
        {
            return [.. _latencies];
        }
    }

    /// <summary>The phase as a result row: every request counts toward the latencies, errors included.</summary>
    public ScenarioResult ToResult(string id, string scenario, string mode)
    {
        var latencies = Latencies();
        var result = new ScenarioResult
        {
            Id = id,
            Scenario = scenario,
            Mode = mode,
            Requests = latencies.Length,
            Errors = Errors,
            Seconds = Seconds,
            Throughput = Seconds > 0 ? (latencies.Length - Errors) / Seconds : 0,
        }.WithLatencies(latencies);
        if (FirstError is not null)
        {
            result.Notes["first error"] = FirstError;
        }

        return result;
    }
}
