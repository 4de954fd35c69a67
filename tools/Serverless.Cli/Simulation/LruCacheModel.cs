namespace Serverless.Cli.Simulation;

/// <summary>
/// A shard's session cache as a plain LRU over model indexes holding at most <c>capacity</c> models.
/// Slots form a doubly linked list in arrays (most recent at the head), so an access allocates nothing.
/// </summary>
internal sealed class LruCacheModel
{
    private readonly Dictionary<int, int> _slotOf;
    private readonly int[] _model;
    private readonly int[] _previous;
    private readonly int[] _next;
    private int _head = -1;
    private int _tail = -1;
    private int _used;

    public LruCacheModel(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _slotOf = new Dictionary<int, int>(capacity);
        _model = new int[capacity];
        _previous = new int[capacity];
        _next = new int[capacity];
    }

    public int Capacity { get; }

    public int Count => _used;

    public bool Contains(int model) => _slotOf.ContainsKey(model);

    /// <summary>Serves a request for <paramref name="model"/>: true on a hit; on a miss loads it, evicting the least recent.</summary>
    public bool Access(int model)
    {
        if (_slotOf.TryGetValue(model, out var slot))
        {
            MoveToHead(slot);
            return true;
        }

        if (_used < Capacity)
        {
            slot = _used++;
        }
        else
        {
            slot = _tail;
            _slotOf.Remove(_model[slot]);
            Unlink(slot);
        }

        _model[slot] = model;
        _slotOf[model] = slot;
        LinkAtHead(slot);
        return false;
    }

    private void MoveToHead(int slot)
    {
        if (slot == _head)
        {
            return;
        }

        Unlink(slot);
        LinkAtHead(slot);
    }

    private void Unlink(int slot)
    {
        var previous = _previous[slot];
        var next = _next[slot];
        if (previous >= 0)
        {
            _next[previous] = next;
        }
        else
        {
            _head = next;
        }

        if (next >= 0)
        {
            _previous[next] = previous;
        }
        else
        {
            _tail = previous;
        }
    }

    private void LinkAtHead(int slot)
    {
        _previous[slot] = -1;
        _next[slot] = _head;
        if (_head >= 0)
        {
            _previous[_head] = slot;
        }

        _head = slot;
        if (_tail < 0)
        {
            _tail = slot;
        }
    }
}
