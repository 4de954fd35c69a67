using Microsoft.Extensions.Options;
using Serverless.Core.Sharding;

namespace Serverless.Scoring;

/// <summary>
/// Whether the shard's resident memory is above its limit (<see cref="ShardOptions.MemoryLimitBytes"/>, else 90%
/// of what the runtime may use): then it loads no new model and sheds those requests with 503, so the router
/// tries another replica, rather than growing until the instance is killed. The reading is at most
/// <see cref="SampleInterval"/> old, so the request path pays for it a few times a second, not per request.
/// </summary>
public sealed class MemoryPressureMonitor
{
    public static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(250);

    private readonly TimeProvider _time;
    private readonly Func<long> _residentBytes;
    private long _sampledAt = long.MinValue;
    private long _lastResident;

    public MemoryPressureMonitor(IOptions<ShardOptions> options, TimeProvider time)
        : this(options, time, static () => Environment.WorkingSet)
    {
    }

    /// <summary>With the resident-bytes reading given (tests).</summary>
    public MemoryPressureMonitor(IOptions<ShardOptions> options, TimeProvider time, Func<long> residentBytes)
    {
        ArgumentNullException.ThrowIfNull(options);
        _time = time;
        _residentBytes = residentBytes;
        LimitBytes = options.Value.MemoryLimitBytes > 0
            ? options.Value.MemoryLimitBytes
            : (long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * 0.9);
    }

    public long LimitBytes { get; }

    /// <summary>Resident bytes at the last sample.</summary>
    public long ResidentBytes => Interlocked.Read(ref _lastResident);

    public bool IsUnderPressure()
    {
        var now = _time.GetTimestamp();
        var sampledAt = Interlocked.Read(ref _sampledAt);
        if (sampledAt == long.MinValue || _time.GetElapsedTime(sampledAt, now) >= SampleInterval)
        {
            Interlocked.Exchange(ref _lastResident, _residentBytes());
            Interlocked.Exchange(ref _sampledAt, now);
        }

        return Interlocked.Read(ref _lastResident) > LimitBytes;
    }
}
