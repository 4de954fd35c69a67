namespace Serverless.Core.Storage;

/// <summary>One value read from storage, and until when it counts as fresh (a <see cref="LastKnownGoodCache"/> entry).</summary>
/// <typeparam name="T">What was read; null is a valid answer ("no such row").</typeparam>
internal sealed class LastKnownGood<T>
{
    private long _freshUntilTicks;

    public LastKnownGood(T value, DateTimeOffset freshUntil)
    {
        Value = value;
        _freshUntilTicks = freshUntil.UtcTicks;
    }

    public T Value { get; }

    public bool IsFresh(DateTimeOffset now) => now.UtcTicks < Interlocked.Read(ref _freshUntilTicks);

    public void FreshUntil(DateTimeOffset until) => Interlocked.Exchange(ref _freshUntilTicks, until.UtcTicks);
}
