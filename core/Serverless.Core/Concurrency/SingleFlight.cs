using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Serverless.Core.Concurrency;

/// <summary>
/// Keyed single flight (as Go's <c>singleflight.Group</c>): a caller joins the work in progress for its key or
/// starts it; the key is free again as soon as the work ends, success or failure, so a failure reaches every
/// caller that joined it and the next caller starts afresh. The work gets no caller's token: one caller giving up
/// (waiting with <c>Task.WaitAsync(token)</c>) does not cancel it for the others. Joining allocates nothing.
/// </summary>
public sealed class SingleFlight<TKey, TValue>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Flight<TValue>> _flights;

    public SingleFlight(IEqualityComparer<TKey>? comparer = null)
    {
        _flights = new ConcurrentDictionary<TKey, Flight<TValue>>(comparer);
    }

    /// <summary>Flights in progress (takes the dictionary's locks: not for a hot path).</summary>
    public int Count => _flights.Count;

    /// <summary>Whether work is in progress for <paramref name="key"/>.</summary>
    public bool IsRunning(TKey key) => _flights.ContainsKey(key);

    /// <summary>The outcome of the work in progress for <paramref name="key"/>, else of <paramref name="work"/> started now.</summary>
    public Task<TValue> JoinOrStart<TState>(TKey key, TState state, Func<TKey, TState, Task<TValue>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return JoinOrStart<Flight<TValue>, (TState State, Func<TKey, TState, Task<TValue>> Work)>(key, (state, work), static (k, s, _) => s.Work(k, s.State)).Task;
    }

    /// <summary>
    /// The flight in progress for <paramref name="key"/> (counting the caller in), else a new <typeparamref name="TFlight"/>
    /// whose work starts after the caller is counted in; <paramref name="work"/> gets the flight it runs for.
    /// </summary>
    public TFlight JoinOrStart<TFlight, TState>(TKey key, TState state, Func<TKey, TState, TFlight, Task<TValue>> work)
        where TFlight : Flight<TValue>, new()
    {
        ArgumentNullException.ThrowIfNull(work);
        if (_flights.TryGetValue(key, out var running))
        {
            var joined = (TFlight)running;
            joined.CountIn();
            return joined;
        }

        var flight = new TFlight();
        flight.CountIn();
        var current = _flights.GetOrAdd(key, flight);
        if (!ReferenceEquals(current, flight))
        {
            // Another caller added its flight first: only the one added runs.
            var raced = (TFlight)current;
            raced.CountIn();
            return raced;
        }

        Run(key, flight, state, work);
        return flight;
    }

    /// <summary>
    /// Starts <paramref name="work"/> for <paramref name="flight"/> (made by the caller, e.g. around work already
    /// begun) unless work is in progress for <paramref name="key"/>: then false, and nothing is joined.
    /// </summary>
    public bool TryStart<TFlight, TState>(TKey key, TFlight flight, TState state, Func<TKey, TState, TFlight, Task<TValue>> work)
        where TFlight : Flight<TValue>
    {
        ArgumentNullException.ThrowIfNull(flight);
        ArgumentNullException.ThrowIfNull(work);
        flight.CountIn();
        if (!_flights.TryAdd(key, flight))
        {
            return false;
        }

        Run(key, flight, state, work);
        return true;
    }

    /// <summary>The flight in progress for <paramref name="key"/> without starting one (the caller is counted in).</summary>
    public bool TryJoin<TFlight>(TKey key, [NotNullWhen(true)] out TFlight? flight)
        where TFlight : Flight<TValue>
    {
        if (_flights.TryGetValue(key, out var running))
        {
            flight = (TFlight)running;
            flight.CountIn();
            return true;
        }

        flight = null;
        return false;
    }

    private void Run<TFlight, TState>(TKey key, TFlight flight, TState state, Func<TKey, TState, TFlight, Task<TValue>> work)
        where TFlight : Flight<TValue>
    {
        Task<TValue> task;
        try
        {
            task = work(key, state, flight);
        }
        catch (Exception e)
        {
            // Thrown before the work's first await: its callers see it as they would a failed task.
            task = Task.FromException<TValue>(e);
        }

        if (task.IsCompleted)
        {
            Finish(key, flight, task);
            return;
        }

        task.ContinueWith(
            static (done, s) =>
            {
                var (group, key, flight) = ((SingleFlight<TKey, TValue>, TKey, Flight<TValue>))s!;
                group.Finish(key, flight, done);
            },
            (this, key, (Flight<TValue>)flight),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void Finish(TKey key, Flight<TValue> flight, Task<TValue> done)
    {
        // The key is freed before the outcome is published: a caller that sees the flight done and asks again
        // starts new work rather than joining the finished one. Removing by key and flight, never another's.
        _flights.TryRemove(new KeyValuePair<TKey, Flight<TValue>>(key, flight));
        flight.Finish(done);
    }
}
