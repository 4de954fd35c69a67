namespace Serverless.Core.Storage;

/// <summary>One value read from storage, and until when it counts as fresh (a <see cref="LastKnownGoodCache"/> entry).</summary>
/// <typeparam name="T">What was read; null is a valid answer ("no such row").</typeparam>
internal sealed class LastKnownGood<T>
{
    private long _freshUntilTicks;
    private int _refreshing;

    public LastKnownGood(T value, DateTimeOffset freshUntil)
    {
        Value = value;
        _freshUntilTicks = freshUntil.UtcTicks;
    }

    public T Value { get; }

    public bool IsFresh(DateTimeOffset now) => now.UtcTicks < Interlocked.Read(ref _freshUntilTicks);

    /// <summary>True when less than <paramref name="ahead"/> of freshness is left at <paramref name="now"/>.</summary>
    public bool IsDueForRefresh(DateTimeOffset now, TimeSpan ahead) => now.UtcTicks >= Interlocked.Read(ref _freshUntilTicks) - ahead.Ticks;

    public void FreshUntil(DateTimeOffset until) => Interlocked.Exchange(ref _freshUntilTicks, until.UtcTicks);

    /// <summary>True for the one caller that gets to refresh this entry in the background.</summary>
    public bool TryStartRefresh() => Interlocked.CompareExchange(ref _refreshing, 1, 0) == 0;

    public void EndRefresh() => Volatile.Write(ref _refreshing, 0);
}
