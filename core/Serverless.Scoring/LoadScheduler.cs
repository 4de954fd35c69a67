using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Serverless.Core.Sharding;

namespace Serverless.Scoring;

/// <summary>
/// The shard's load slots: at most <see cref="ShardOptions.EffectiveConcurrentLoads"/> model loads (read + session
/// creation) at once, loads of different models in parallel up to that bound. Loads that requests wait on go before
/// warm-ups (prewarm, the v2 repository load before an alias moves), as ModelMesh orders its load queue: a request's
/// load never queues behind a warm-up, and a queued warm-up that a request joins is promoted to the requests' queue.
/// </summary>
/// <remarks>
/// The bound is on loads, not on requests: a load holds a model's bytes and a session being built, so it bounds the
/// memory in flight for loads (bound × the largest model) and the CPU that session creations take from running
/// models. A slot granted by another load's end is handed over on the thread pool, not on that load's thread.
/// </remarks>
public sealed class LoadScheduler
{
    private readonly object _gate = new();
    private readonly LinkedList<LoadTicket> _requests = new();
    private readonly LinkedList<LoadTicket> _warmups = new();
    private readonly int _limit;
    private readonly Counter<long> _promotions;
    private readonly Histogram<double> _queued;
    private int _running;
    private int _mostRunning;

    public LoadScheduler(IOptions<ShardOptions> options, IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meterFactory);
        _limit = options.Value.EffectiveConcurrentLoads;
        var meter = meterFactory.Create("Serverless.Shard");
        meter.CreateObservableGauge("serverless.loads.running", () => Running, "{load}", "Model loads running on this shard");
        meter.CreateObservableGauge("serverless.loads.queued", () => Queued, "{load}", "Model loads waiting for a load slot on this shard (Shard__MaxConcurrentLoads)");
        _promotions = meter.CreateCounter<long>("serverless.loads.promotions", "{load}", "Queued warm-up loads a request joined, moved ahead of every other warm-up");
        _queued = meter.CreateHistogram<double>("serverless.loads.queue_wait", "ms", "Time a load waited for a load slot");
    }

    /// <summary>The most loads that run at once.</summary>
    public int Limit => _limit;

    /// <summary>Loads holding a slot now.</summary>
    public int Running
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    /// <summary>The most loads seen holding a slot at once since the shard started (a test and diagnostics figure).</summary>
    public int MostRunning => Volatile.Read(ref _mostRunning);

    /// <summary>Loads waiting for a slot now, both queues together.</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _requests.Count + _warmups.Count;
            }
        }
    }

    /// <summary>
    /// A place in the queue for one load: its <see cref="LoadTicket.Started"/> completes when it holds a slot, and
    /// disposing the ticket gives the slot back (or leaves the queue). Granted at once when a slot is free and no
    /// load of its priority or higher waits.
    /// </summary>
    public LoadTicket Enqueue(SessionUse use)
    {
        var ticket = new LoadTicket(this, use);
        bool granted;
        lock (_gate)
        {
            var waitingAhead = _requests.Count > 0 || (use == SessionUse.Warmup && _warmups.Count > 0);
            granted = _running < _limit && !waitingAhead;
            if (granted)
            {
                Grant(ticket);
            }
            else
            {
                ticket.Node = (use == SessionUse.Request ? _requests : _warmups).AddLast(ticket);
            }
        }

        if (granted)
        {
            // Nobody awaits it yet: the caller's await finds it complete and goes on without a hop.
            ticket.Signal();
        }

        return ticket;
    }

    /// <summary>A request joined this load: a warm-up still queued moves to the end of the requests' queue.</summary>
    internal void Promote(LoadTicket ticket)
    {
        lock (_gate)
        {
            if (ticket.Node is { } node && node.List == _warmups)
            {
                _warmups.Remove(node);
                ticket.Node = _requests.AddLast(ticket);
                _promotions.Add(1);
            }
        }
    }

    /// <summary>A ticket is done with: its slot goes to the next queued load, requests first.</summary>
    internal void Release(LoadTicket ticket)
    {
        LoadTicket? next = null;
        lock (_gate)
        {
            if (ticket.Node is { } node)
            {
                // Left the queue before it got a slot (its load failed to start).
                node.List!.Remove(node);
                ticket.Node = null;
                return;
            }

            if (!ticket.HoldsSlot)
            {
                return;
            }

            ticket.HoldsSlot = false;
            _running--;
            var first = _requests.First ?? _warmups.First;
            if (first is not null)
            {
                first.List!.Remove(first);
                next = first.Value;
                next.Node = null;
                Grant(next);
            }
        }

        next?.Signal();
    }

    /// <summary>Under the lock: the ticket holds a slot (its waiter is signalled by the caller, outside the lock).</summary>
    private void Grant(LoadTicket ticket)
    {
        ticket.HoldsSlot = true;
        _running++;
        if (_running > _mostRunning)
        {
            Volatile.Write(ref _mostRunning, _running);
        }
    }

    internal void RecordQueueWait(double milliseconds) => _queued.Record(milliseconds);
}
