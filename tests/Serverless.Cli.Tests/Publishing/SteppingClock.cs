namespace Serverless.Cli.Tests.Publishing;

/// <summary>
/// A clock one second further on at every reading, so two rows written by two deliveries never carry the same
/// <c>PublishedAt</c>: a test can tell which delivery's row is the one stored.
/// </summary>
public sealed class SteppingClock : TimeProvider
{
    private long _ticks = DateTimeOffset.UtcNow.Ticks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Add(ref _ticks, TimeSpan.TicksPerSecond), TimeSpan.Zero);
}
