namespace Serverless.Core.Protocol;

/// <summary>
/// One request body's account in a <see cref="BodyMemoryBudget"/>: <see cref="RequestBody.ReadAsync(Stream, long?, long, BodyMemory?, CancellationToken)"/>
/// takes what its buffer needs before the buffer grows; disposing gives it all back.
/// </summary>
public sealed class BodyMemory : IDisposable
{
    private readonly BodyMemoryBudget _budget;
    private long _held;

    internal BodyMemory(BodyMemoryBudget budget) => _budget = budget;

    /// <summary>Bytes this body holds in the budget.</summary>
    public long HeldBytes => _held;

    /// <summary>Makes the account hold at least <paramref name="bytes"/> (throws the 503 when they do not fit).</summary>
    public void EnsureHeld(long bytes)
    {
        if (bytes > _held)
        {
            _budget.Take(bytes - _held);
            _held = bytes;
        }
    }

    public void Dispose()
    {
        if (_held > 0)
        {
            _budget.Release(_held);
            _held = 0;
        }
    }
}
