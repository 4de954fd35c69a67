using System.Buffers;

namespace Serverless.Core.Protocol;

/// <summary>
/// One request body's account in a <see cref="BodyMemoryBudget"/>, and the pooled array that holds the body:
/// <see cref="RequestBody.ReadAsync(Stream, long?, long, BodyMemory?, CancellationToken)"/> grows it through
/// <see cref="Grow"/>, each array counted before it is rented; disposing returns the array and gives the bytes back.
/// Not thread-safe: one request reads its body.
/// </summary>
public sealed class BodyMemory : IDisposable
{
    private readonly BodyMemoryBudget _budget;
    private byte[]? _array;
    private long _held;

    internal BodyMemory(BodyMemoryBudget budget) => _budget = budget;

    /// <summary>Bytes this body holds in the budget.</summary>
    public long HeldBytes => _held;

    /// <summary>
    /// An array of at least <paramref name="minimumLength"/> bytes holding the first <paramref name="written"/> bytes of
    /// the one before (throws the 503 when the old and the new one do not fit together).
    /// </summary>
    internal byte[] Grow(int written, int minimumLength)
    {
        // ArrayPool rounds up to a power of two: count what is rented, not what was asked.
        var length = (long)Math.Max(16, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)minimumLength));
        Hold(_held + length);
        var next = ArrayPool<byte>.Shared.Rent(minimumLength);
        if (_array is { } previous)
        {
            previous.AsSpan(0, written).CopyTo(next);
            ArrayPool<byte>.Shared.Return(previous);
        }

        _array = next;
        Hold(next.Length, shrink: true);
        return next;
    }

    private void Hold(long bytes, bool shrink = false)
    {
        if (bytes > _held)
        {
            _budget.Take(bytes - _held);
            _held = bytes;
        }
        else if (shrink && bytes < _held)
        {
            _budget.Release(_held - bytes);
            _held = bytes;
        }
    }

    public void Dispose()
    {
        if (_array is { } array)
        {
            _array = null;
            ArrayPool<byte>.Shared.Return(array);
        }

        if (_held > 0)
        {
            _budget.Release(_held);
            _held = 0;
        }
    }
}
