namespace Serverless.Scoring;

/// <summary>
/// One load of a model that every request missing it waits for (single flight). The load keeps a reference
/// to its session for the waiters until the last of them has taken its own, so a session the cache refuses
/// or evicts at once (one larger than the whole budget) is still the one session they all run on, not one
/// load per waiter.
/// </summary>
internal sealed class PendingLoad
{
    private readonly Lazy<Task<ModelSession>> _task;
    private ModelSession? _held;
    private int _waiters;

    public PendingLoad(Func<PendingLoad, Task<ModelSession>> start)
    {
        _task = new Lazy<Task<ModelSession>>(() => start(this));
    }

    /// <summary>The load (started by the first waiter that asks).</summary>
    public Task<ModelSession> Task => _task.Value;

    /// <summary>Counts a waiter in; before it waits.</summary>
    public void Join() => Interlocked.Increment(ref _waiters);

    /// <summary>Counts a waiter out, once it holds its own reference (or gave up); the last one lets go of the load's.</summary>
    public void Leave()
    {
        if (Interlocked.Decrement(ref _waiters) == 0)
        {
            Interlocked.Exchange(ref _held, null)?.Release();
        }
    }

    /// <summary>Called by the load with a reference it took for the waiters.</summary>
    public void Hold(ModelSession session)
    {
        Volatile.Write(ref _held, session);
        if (Volatile.Read(ref _waiters) == 0)
        {
            // Every waiter gave up before the load finished.
            Interlocked.Exchange(ref _held, null)?.Release();
        }
    }
}
