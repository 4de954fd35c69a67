using System.Collections.Concurrent;

namespace Serverless.Routing;

/// <summary>
/// Chooses which replica a request goes to first: of two replicas picked at random, the one with fewer
/// requests outstanding from this router (power of two choices), so a slow replica sheds load to the
/// others without any coordination. The rest follow in placement order, as fallbacks.
/// </summary>
public sealed class ReplicaSelector
{
    /// <summary>How long a shard that refused a connection is tried last.</summary>
    public static readonly TimeSpan EjectionTime = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, StrongBox> _outstanding = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _ejectedUntil = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly Random _random;

    public ReplicaSelector(TimeProvider time)
        : this(time, Random.Shared)
    {
    }

    /// <summary>With its own source of randomness (tests give a seeded one; it must be thread-safe where requests run in parallel, as <see cref="Random.Shared"/> is).</summary>
    public ReplicaSelector(TimeProvider time, Random random)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(random);
        _time = time;
        _random = random;
    }

    /// <summary>Puts a shard that could not be reached last in every order for <see cref="EjectionTime"/>.</summary>
    public void Eject(string shardId) =>
        _ejectedUntil[shardId] = _time.GetTimestamp() + (long)(EjectionTime.TotalSeconds * _time.TimestampFrequency);

    /// <summary>True while a shard is ejected.</summary>
    public bool IsEjected(string shardId) =>
        _ejectedUntil.TryGetValue(shardId, out var until) && _time.GetTimestamp() < until;

    /// <summary>
    /// The order to try replicas in: the first by power of two choices among those not ejected, then the
    /// other healthy ones in placement order, then the ejected ones (still better than no answer).
    /// </summary>
    public int[] Order(IReadOnlyList<string> replicaIds)
    {
        var healthy = new List<int>(replicaIds.Count);
        var ejected = new List<int>();
        for (var i = 0; i < replicaIds.Count; i++)
        {
            (IsEjected(replicaIds[i]) ? ejected : healthy).Add(i);
        }

        var order = new int[replicaIds.Count];
        var n = 0;
        if (healthy.Count > 0)
        {
            var first = healthy[ChooseFirst(healthy.ConvertAll(i => replicaIds[i]))];
            order[n++] = first;
            foreach (var i in healthy)
            {
                if (i != first)
                {
                    order[n++] = i;
                }
            }
        }

        foreach (var i in ejected)
        {
            order[n++] = i;
        }

        return order;
    }

    /// <summary>Requests this router has in flight to a shard.</summary>
    public int Outstanding(string shardId) => _outstanding.TryGetValue(shardId, out var box) ? Volatile.Read(ref box.Value) : 0;

    /// <summary>The index (into <paramref name="replicaIds"/>) of the replica to try first.</summary>
    public int ChooseFirst(IReadOnlyList<string> replicaIds)
    {
        var count = replicaIds.Count;
        if (count <= 1)
        {
            return 0;
        }

        var a = _random.Next(count);
        var b = _random.Next(count - 1);
        if (b >= a)
        {
            b++;
        }

        return Outstanding(replicaIds[b]) < Outstanding(replicaIds[a]) ? b : a;
    }

    /// <summary>Counts a request to a shard as outstanding until the returned scope is disposed.</summary>
    public OutstandingScope Track(string shardId)
    {
        var box = _outstanding.GetOrAdd(shardId, static _ => new StrongBox());
        Interlocked.Increment(ref box.Value);
        return new OutstandingScope(box);
    }

    /// <summary>A mutable counter on the heap, shared by all requests to one shard.</summary>
    public sealed class StrongBox
    {
#pragma warning disable CA1051 // A field, so Interlocked can take it by reference.
        public int Value;
#pragma warning restore CA1051
    }

    /// <summary>Ends one outstanding request.</summary>
    public readonly struct OutstandingScope : IDisposable
    {
        private readonly StrongBox _box;

        public OutstandingScope(StrongBox box) => _box = box;

        public void Dispose() => Interlocked.Decrement(ref _box.Value);
    }
}
