namespace Serverless.Core.Concurrency;

/// <summary>
/// Runs an idempotent action per key so that each caller is covered by a run that started after its call, while
/// callers that arrive during a run share the one next run instead of starting one each. For "tell the readers that
/// something changed" writes (a registry epoch bump): forty publishes finishing together cost two bumps, not forty,
/// and no caller returns before a bump that follows its own change has landed.
/// </summary>
/// <remarks>
/// A run is shared, so no single caller's token cancels it; a caller that gives up stops waiting only. A run that
/// fails fails every caller that shares it. Keys are dropped when their last run ends, so the map holds only the keys
/// with a run in flight.
/// </remarks>
public sealed class CoalescingRunner<TKey>
    where TKey : notnull
{
    private readonly Dictionary<TKey, Slot> _slots;
    private readonly Func<TKey, Task> _run;

    public CoalescingRunner(Func<TKey, Task> run, IEqualityComparer<TKey>? comparer = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        _run = run;
        _slots = new Dictionary<TKey, Slot>(comparer);
    }

    /// <summary>Keys with a run in flight or queued (a test hook).</summary>
    public int Count
    {
        get
        {
            lock (_slots)
            {
                return _slots.Count;
            }
        }
    }

    /// <summary>Completes when a run of <paramref name="key"/> that started after this call has ended.</summary>
    public Task RunAsync(TKey key, CancellationToken cancellationToken)
    {
        Task shared;
        lock (_slots)
        {
            if (!_slots.TryGetValue(key, out var slot))
            {
                slot = new Slot();
                _slots[key] = slot;
                slot.Current = StartAsync(key, slot, previous: null);
                shared = slot.Current;
            }
            else
            {
                // A run is in flight and may have started before this caller's change: share the next one.
                slot.Next ??= StartAsync(key, slot, previous: slot.Current);
                shared = slot.Next;
            }
        }

        return shared.WaitAsync(cancellationToken);
    }

    private async Task StartAsync(TKey key, Slot slot, Task? previous)
    {
        // Off the caller's stack, which holds the lock and has not yet stored this task in the slot.
        await Task.Yield();
        if (previous is not null)
        {
            try
            {
                await previous.ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The previous run's failure is its callers'; this run is another.
            }

            lock (_slots)
            {
                // From here this run is the current one; callers arriving now queue the one after it.
                slot.Current = slot.Next!;
                slot.Next = null;
            }
        }

        try
        {
            await _run(key).ConfigureAwait(false);
        }
        finally
        {
            lock (_slots)
            {
                if (slot.Next is null)
                {
                    _slots.Remove(key);
                }
            }
        }
    }

    private sealed class Slot
    {
        public Task Current { get; set; } = Task.CompletedTask;

        public Task? Next { get; set; }
    }
}
