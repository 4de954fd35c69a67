namespace Serverless.Core.Storage;

/// <summary>
/// One per process (on <see cref="StorageClients"/>): remembers that storage just failed, so the request path's
/// reads (<see cref="LastKnownGoodCache"/>) stop asking it for <see cref="RetryInterval"/> and use what they
/// last read. Without it, each of the several reads of one request would pay the SDK's retries in turn while
/// storage is away. Closed: reads go to storage. Open: they do not. Half-open (the interval passed): one
/// background read probes storage while requests go on with what is known; its success closes the breaker.
/// </summary>
public sealed class StorageOutageBreaker
{
    /// <summary>How long after a failure storage is left alone before it is probed again.</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);

    private long _openUntilTicks;
    private int _probing;

    /// <summary>True while reads must not go to storage (a failure within <see cref="RetryInterval"/>).</summary>
    public bool IsOpen(DateTimeOffset now)
    {
        var until = Interlocked.Read(ref _openUntilTicks);
        return until != 0 && now.UtcTicks < until;
    }

    /// <summary>True when storage failed and has not answered since, but the interval has passed: time to probe.</summary>
    public bool IsHalfOpen(DateTimeOffset now)
    {
        var until = Interlocked.Read(ref _openUntilTicks);
        return until != 0 && now.UtcTicks >= until;
    }

    public void Failed(DateTimeOffset now) => Interlocked.Exchange(ref _openUntilTicks, (now + RetryInterval).UtcTicks);

    public void Succeeded() => Interlocked.Exchange(ref _openUntilTicks, 0);

    /// <summary>True for the one caller that may run the probe; it calls <see cref="EndProbe"/> when done.</summary>
    public bool TryStartProbe() => Interlocked.CompareExchange(ref _probing, 1, 0) == 0;

    public void EndProbe() => Volatile.Write(ref _probing, 0);
}
