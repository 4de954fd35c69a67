using System.Diagnostics;

namespace Serverless.Scoring;

/// <summary>
/// One load's place with the <see cref="LoadScheduler"/>: queued, then holding a load slot until disposed. Its
/// priority is the use that started the load; <see cref="Promote"/> raises a warm-up's when a request joins it.
/// </summary>
public sealed class LoadTicket : IDisposable
{
    // Continuations run on the thread pool: the slot is handed over by another load's end, which must not run this
    // load's read and session creation on its own thread.
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly LoadScheduler _scheduler;
    private readonly long _enqueued = Stopwatch.GetTimestamp();
    private int _disposed;

    internal LoadTicket(LoadScheduler scheduler, SessionUse use)
    {
        _scheduler = scheduler;
        Use = use;
    }

    /// <summary>The use the load was queued for (a promoted warm-up stays <see cref="SessionUse.Warmup"/> here).</summary>
    public SessionUse Use { get; }

    /// <summary>Completes when the load holds a slot.</summary>
    public Task Started => _started.Task;

    /// <summary>Its node in one of the scheduler's queues while queued; null once granted (guarded by the scheduler's lock).</summary>
    internal LinkedListNode<LoadTicket>? Node { get; set; }

    /// <summary>Whether it holds a slot (guarded by the scheduler's lock).</summary>
    internal bool HoldsSlot { get; set; }

    /// <summary>A request waits on this load: if it is a queued warm-up, it goes ahead of every warm-up.</summary>
    public void Promote() => _scheduler.Promote(this);

    /// <summary>Gives the slot back (or leaves the queue); once.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _scheduler.Release(this);
        }
    }

    internal void Signal()
    {
        _scheduler.RecordQueueWait(Stopwatch.GetElapsedTime(_enqueued).TotalMilliseconds);
        _started.TrySetResult();
    }
}
