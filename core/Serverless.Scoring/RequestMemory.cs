namespace Serverless.Scoring;

/// <summary>
/// One request's account in the shard's <see cref="RequestMemoryBudget"/>: each buffer the request needs is taken
/// from it before the buffer is allocated, and everything is given back when the request ends (dispose).
/// </summary>
public sealed class RequestMemory : IDisposable
{
    private readonly RequestMemoryBudget _budget;
    private long _held;

    internal RequestMemory(RequestMemoryBudget budget) => _budget = budget;

    /// <summary>Bytes this request holds.</summary>
    public long HeldBytes => _held;

    /// <summary>Takes the body's bytes. Throws 413 over the per-request budget, 503 over the shard's in-flight budget.</summary>
    public void TakeBody(long bytes) => Take(bytes, null, batchCopy: false);

    /// <summary>Takes the bytes of a decoded input (named in the error), before its buffer is allocated.</summary>
    public void TakeInput(long bytes, string input) => Take(bytes, input, batchCopy: false);

    /// <summary>Takes the bytes of an input's copy in a dynamic batch's stacked tensor.</summary>
    public void TakeBatchCopy(long bytes, string input) => Take(bytes, input, batchCopy: true);

    // Not thread-safe: one request is one flow of awaits.
    private void Take(long bytes, string? input, bool batchCopy)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        _budget.Take(_held, bytes, input, batchCopy);
        _held += bytes;
    }

    public void Dispose()
    {
        var held = _held;
        _held = 0;
        if (held != 0)
        {
            _budget.Release(held);
        }
    }
}
