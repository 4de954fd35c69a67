namespace Serverless.Core.Concurrency;

/// <summary>
/// One piece of work in progress under a key of a <see cref="SingleFlight{TKey, TValue}"/>, with the callers that
/// joined it counted (the caller that started it included, counted before the work starts). A place that needs
/// more per flight than the shared task (a reference handed to its waiters, a keep window) derives from it.
/// </summary>
public class Flight<TValue>
{
    // Continuations run as they would on the work's own task: joining must not cost a thread hop.
    private readonly TaskCompletionSource<TValue> _done = new();
    private int _callers;

    /// <summary>The shared outcome: completed after the key is free again, so a caller seeing it done starts a new flight.</summary>
    public Task<TValue> Task => _done.Task;

    /// <summary>Callers counted in (and not yet counted out by a derived type).</summary>
    protected int Callers => Volatile.Read(ref _callers);

    internal void CountIn() => Interlocked.Increment(ref _callers);

    /// <summary>Counts a caller out; the count left.</summary>
    protected int CountOut() => Interlocked.Decrement(ref _callers);

    internal void Finish(Task<TValue> work) => _done.SetFromTask(work);
}
