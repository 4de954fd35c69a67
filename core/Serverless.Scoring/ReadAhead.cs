using Serverless.Core.Concurrency;

namespace Serverless.Scoring;

/// <summary>
/// Bytes of a model version read ahead of its registry row (<see cref="ModelLoader.Prefetch"/>), a flight of the
/// loader's <see cref="SingleFlight{TKey, TValue}"/>: the flight lasts while the read runs and then until a load
/// takes the bytes or <c>keptFor</c> has passed, so a read ahead no load takes is dropped; its value says whether
/// one took it.
/// </summary>
internal sealed class ReadAhead : Flight<bool>
{
    private readonly TaskCompletionSource _taken = new();

    public ReadAhead(Task<(byte[] Bytes, string Source)> read)
    {
        Read = read;
    }

    /// <summary>The read (disk tier, else Blob).</summary>
    public Task<(byte[] Bytes, string Source)> Read { get; }

    /// <summary>True for the one load that gets the bytes; the flight then ends.</summary>
    public bool TryTake() => _taken.TrySetResult();

    /// <summary>The flight's work: the read, then the wait for a load to take it.</summary>
    public async Task<bool> KeepAsync(TimeSpan keptFor)
    {
        try
        {
            await Read.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A failed read ahead is only dropped; the load reads again and reports.
        }

        if (!_taken.Task.IsCompleted)
        {
            await System.Threading.Tasks.Task.WhenAny(_taken.Task, System.Threading.Tasks.Task.Delay(keptFor)).ConfigureAwait(false);
        }

        // Taken, or no longer offered: a load finding the flight still there (as it ends) takes nothing.
        return !_taken.TrySetResult();
    }
}
