namespace Serverless.Cli.Bench;

/// <summary>What one load phase measured: latencies (ms) of the requests in the window, errors and cache answers.</summary>
internal sealed class LoadRun
{
    private readonly object _gate = new();
    private readonly List<double> _latencies;
    private readonly List<double> _hitLatencies = [];
    private readonly List<double> _missLatencies = [];
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
            // Split by the shard's x-cache answer: a miss's latency is the load's, which the overall figures hide.
            if (ok && cacheHit is { } hit)
            {
                (hit ? _hitLatencies : _missLatencies).Add(latencyMs);
            }
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

        AddSplit(result, "hit", _hitLatencies);
        AddSplit(result, "miss", _missLatencies);
        return result;
    }

    /// <summary>p50/p99/max of the successful requests with one cache answer, as metrics and a note.</summary>
    private void AddSplit(ScenarioResult result, string answer, List<double> latencies)
    {
        double[] sorted;
        lock (_gate)
        {
            sorted = [.. latencies];
        }

        if (sorted.Length == 0)
        {
            return;
        }

        Array.Sort(sorted);
        var p50 = LatencyStats.Percentile(sorted, 50);
        var p99 = LatencyStats.Percentile(sorted, 99);
        result.Metrics[answer + "_p50_ms"] = p50;
        result.Metrics[answer + "_p99_ms"] = p99;
        result.Notes[answer + " latency"] = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{sorted.Length:N0} requests: p50 {p50:0.00} ms, p99 {p99:0.00} ms, max {sorted[^1]:0.00} ms");
    }
}
