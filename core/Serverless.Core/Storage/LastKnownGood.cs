namespace Serverless.Core.Storage;

/// <summary>One value read from storage, and until when it counts as fresh (a <see cref="LastKnownGoodCache"/> entry).</summary>
/// <typeparam name="T">What was read; null is a valid answer ("no such row").</typeparam>
internal sealed class LastKnownGood<T>
{
    private long _freshUntilTicks;
    private int _refreshing;

    public LastKnownGood(T value, DateTimeOffset freshUntil)
        : this(value, freshUntil, null, freshUntil)
    {
    }

    /// <summary>A value read at <paramref name="readAt"/> under change stamp <paramref name="stamp"/> (null: none).</summary>
    public LastKnownGood(T value, DateTimeOffset freshUntil, string? stamp, DateTimeOffset readAt)
    {
        Value = value;
        _freshUntilTicks = freshUntil.UtcTicks;
        Stamp = stamp;
        ReadAtTicks = readAt.UtcTicks;
    }

    /// <summary>The change stamp current when the read of this value started (see <see cref="LastKnownGoodCache"/>).</summary>
    public string? Stamp { get; }

    public long ReadAtTicks { get; }

    /// <summary>
    /// True while <paramref name="currentStamp"/> is still the stamp this value was read under, the value was read
    /// less than <paramref name="stampedFor"/> ago, and it has not been expired on purpose.
    /// </summary>
    public bool IsStampValid(string? currentStamp, DateTimeOffset now, TimeSpan stampedFor) =>
        currentStamp is not null
        && Stamp is not null
        && string.Equals(currentStamp, Stamp, StringComparison.Ordinal)
        && now.UtcTicks - ReadAtTicks < stampedFor.Ticks
        && Interlocked.Read(ref _freshUntilTicks) != DateTimeOffset.MinValue.UtcTicks;

    public T Value { get; }

    public bool IsFresh(DateTimeOffset now) => now.UtcTicks < Interlocked.Read(ref _freshUntilTicks);

    /// <summary>True when less than <paramref name="ahead"/> of freshness is left at <paramref name="now"/>.</summary>
    public bool IsDueForRefresh(DateTimeOffset now, TimeSpan ahead) => now.UtcTicks >= Interlocked.Read(ref _freshUntilTicks) - ahead.Ticks;

    public void FreshUntil(DateTimeOffset until) => Interlocked.Exchange(ref _freshUntilTicks, until.UtcTicks);

    /// <summary>True for the one caller that gets to refresh this entry in the background.</summary>
    public bool TryStartRefresh() => Interlocked.CompareExchange(ref _refreshing, 1, 0) == 0;

    public void EndRefresh() => Volatile.Write(ref _refreshing, 0);
}
