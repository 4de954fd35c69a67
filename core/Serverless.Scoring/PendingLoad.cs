using Serverless.Core.Concurrency;

namespace Serverless.Scoring;

/// <summary>
/// One load of a model that every request missing it waits for (a flight of <see cref="SessionCache"/>'s
/// <see cref="SingleFlight{TKey, TValue}"/>). The load keeps a reference to its session for the waiters until the
/// last of them has taken its own, so a session the cache refuses or evicts at once (one larger than the whole
/// budget) is still the one session they all run on, not one load per waiter. The waiters are the flight's
/// callers: each is counted in before the load starts or as it joins, so none can be missed by <see cref="Hold"/>.
/// </summary>
internal sealed class PendingLoad : Flight<ModelSession>
{
    private ModelSession? _held;
    private LoadTicket? _ticket;
    private int _wanted;

    /// <summary>Whether a request waits on this load (it started it, or joined it): its slot comes before warm-ups'.</summary>
    public bool RequestWaits => Volatile.Read(ref _wanted) == 1;

    /// <summary>A request waits on this load: if it is a warm-up still queued for a slot, it goes ahead of warm-ups.</summary>
    public void Promote()
    {
        if (Interlocked.Exchange(ref _wanted, 1) == 0)
        {
            Volatile.Read(ref _ticket)?.Promote();
        }
    }

    /// <summary>The load's ticket with the scheduler; a request that joined before it was queued promotes it here.</summary>
    public void Queued(LoadTicket ticket)
    {
        // A full fence between publishing the ticket and reading the flag, as Promote has between setting the flag and
        // reading the ticket: one of the two sees the other, so a request joining at this moment is never missed.
        Interlocked.Exchange(ref _ticket, ticket);
        if (RequestWaits)
        {
            ticket.Promote();
        }
    }

    /// <summary>Counts a waiter out, once it holds its own reference (or gave up); the last one lets go of the load's.</summary>
    public void Leave()
    {
        if (CountOut() == 0)
        {
            Interlocked.Exchange(ref _held, null)?.Release();
        }
    }

    /// <summary>Called by the load with a reference it took for the waiters.</summary>
    public void Hold(ModelSession session)
    {
        Volatile.Write(ref _held, session);
        if (Callers == 0)
        {
            // Every waiter gave up before the load finished.
            Interlocked.Exchange(ref _held, null)?.Release();
        }
    }
}
