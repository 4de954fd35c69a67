using System.Collections.Concurrent;

namespace Serverless.Core.Observability;

/// <summary>
/// The router's requests over the last minutes, in memory: <see cref="Buckets"/> buckets of
/// <see cref="BucketSeconds"/> s, each with counts per (tenant, model, shard, status) and a log-scale latency
/// histogram (about 9 % per step), plus lifetime counts since the process started (which match the
/// <c>serverless.requests</c> counter). Memory is bounded by the window and by <see cref="MaxKeys"/> keys (the
/// lifetime totals and each bucket alike): past it, a new key's counts go to its tenant's <see cref="OverflowModel"/>
/// key, as OpenTelemetry folds series past its cap, so counts stay whole while what a client sends cannot grow it.
/// </summary>
public sealed class RequestWindow
{
    public const int BucketSeconds = 5;
    public const int Buckets = 72;
    private const int LatencySlots = 256;
    private const double LatencyFloorMs = 0.01;
    private const double StepsPerDoubling = 8;

    /// <summary>Distinct keys held (lifetime totals, and each bucket): one per model, shard and status in use.</summary>
    public const int DefaultMaxKeys = 10_000;

    /// <summary>The model of the key that counts what did not fit under <see cref="MaxKeys"/>.</summary>
    public const string OverflowModel = "_overflow";

    private readonly TimeProvider _time;
    private readonly int _maxKeys;
    private readonly Bucket[] _buckets = new Bucket[Buckets];
    private readonly ConcurrentDictionary<RequestKey, long> _totals = new();

    public RequestWindow(TimeProvider time)
        : this(time, DefaultMaxKeys)
    {
    }

    /// <summary>With another bound on the keys (tests).</summary>
    public RequestWindow(TimeProvider time, int maxKeys)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeys, 1);
        _time = time;
        _maxKeys = maxKeys;
        for (var i = 0; i < _buckets.Length; i++)
        {
            _buckets[i] = new Bucket();
        }
    }

    /// <summary>Records one answered request.</summary>
    public void Record(string tenant, string model, string shard, int status, double milliseconds)
    {
        var key = new RequestKey(tenant, model, shard, status);
        // Count is racy (the bound may be passed by a few concurrent inserts), which is fine for a memory bound.
        var total = !_totals.ContainsKey(key) && _totals.Count >= _maxKeys ? Overflow(key) : key;
        _totals.AddOrUpdate(total, 1, static (_, n) => n + 1);
        var epoch = _time.GetUtcNow().ToUnixTimeSeconds() / BucketSeconds;
        var bucket = _buckets[epoch % Buckets];
        lock (bucket)
        {
            if (bucket.Epoch != epoch)
            {
                bucket.Reset(epoch);
            }

            var counted = bucket.Counts.Count >= _maxKeys && !bucket.Counts.ContainsKey(key) ? Overflow(key) : key;
            bucket.Counts[counted] = bucket.Counts.GetValueOrDefault(counted) + 1;
            bucket.Latency[Slot(milliseconds)]++;
            bucket.Total++;
        }
    }

    /// <summary>Keys held in the lifetime totals.</summary>
    public int KeyCount => _totals.Count;

    private static RequestKey Overflow(RequestKey key) => new(key.Tenant, OverflowModel, "", key.Status);

    /// <summary>Lifetime counts per (tenant, model, shard, status) since the process started.</summary>
    public IReadOnlyDictionary<RequestKey, long> Totals() => new Dictionary<RequestKey, long>(_totals);

    /// <summary>The last <paramref name="minutes"/> minutes (at most the window): counts per key and a latency series.</summary>
    public WindowSnapshot Snapshot(int minutes)
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds() / BucketSeconds;
        var span = Math.Clamp(minutes * 60 / BucketSeconds, 1, Buckets - 1);
        var counts = new Dictionary<RequestKey, long>();
        var overall = new long[LatencySlots];
        var series = new List<LatencyPoint>(span);
        for (var epoch = now - span + 1; epoch <= now; epoch++)
        {
            var bucket = _buckets[epoch % Buckets];
            long total = 0;
            long errors = 0;
            double p50 = 0;
            double p99 = 0;
            lock (bucket)
            {
                if (bucket.Epoch == epoch)
                {
                    foreach (var (key, n) in bucket.Counts)
                    {
                        counts[key] = counts.GetValueOrDefault(key) + n;
                        if (key.Status >= 500)
                        {
                            errors += n;
                        }
                    }

                    for (var i = 0; i < LatencySlots; i++)
                    {
                        overall[i] += bucket.Latency[i];
                    }

                    total = bucket.Total;
                    p50 = Percentile(bucket.Latency, total, 0.50);
                    p99 = Percentile(bucket.Latency, total, 0.99);
                }
            }

            series.Add(new LatencyPoint(DateTimeOffset.FromUnixTimeSeconds(epoch * BucketSeconds), total, errors, p50, p99));
        }

        var all = overall.Sum();
        return new WindowSnapshot(counts, series, Percentile(overall, all, 0.50), Percentile(overall, all, 0.99));
    }

    private static int Slot(double milliseconds)
    {
        if (!(milliseconds > LatencyFloorMs))
        {
            return 0;
        }

        return (int)Math.Clamp(Math.Floor(StepsPerDoubling * Math.Log2(milliseconds / LatencyFloorMs)), 0, LatencySlots - 1);
    }

    /// <summary>The value at quantile <paramref name="q"/>: the geometric middle of the slot it falls in.</summary>
    private static double Percentile(long[] slots, long total, double q)
    {
        if (total == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(q * total);
        long seen = 0;
        for (var i = 0; i < slots.Length; i++)
        {
            seen += slots[i];
            if (seen >= rank)
            {
                return Math.Round(LatencyFloorMs * Math.Pow(2, (i + 0.5) / StepsPerDoubling), 3);
            }
        }

        return 0;
    }

    private sealed class Bucket
    {
        public long Epoch = -1;
        public readonly Dictionary<RequestKey, long> Counts = [];
        public readonly long[] Latency = new long[LatencySlots];
        public long Total;

        public void Reset(long epoch)
        {
            Epoch = epoch;
            Counts.Clear();
            Array.Clear(Latency);
            Total = 0;
        }
    }
}

/// <summary>What one request count is kept by.</summary>
public readonly record struct RequestKey(string Tenant, string Model, string Shard, int Status);

/// <summary>One bucket of the latency series: requests, 5xx answers, p50 and p99 (ms).</summary>
public sealed record LatencyPoint(DateTimeOffset At, long Requests, long Errors, double P50Ms, double P99Ms);

/// <summary>A window's counts per key, its latency series and its overall p50/p99 (ms).</summary>
public sealed record WindowSnapshot(IReadOnlyDictionary<RequestKey, long> Counts, IReadOnlyList<LatencyPoint> Series, double P50Ms, double P99Ms);
