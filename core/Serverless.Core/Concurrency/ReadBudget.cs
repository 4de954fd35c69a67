namespace Serverless.Core.Concurrency;

/// <summary>
/// At most <c>perSecond</c> takes in each second of a <see cref="TimeProvider"/>: the storage reads a process allows
/// itself for names its name sets say do not exist. It lets a name created a moment ago (a tenant added, a model
/// published, before the next epoch poll shows it) work at once while junk is rare, and caps what a flood of distinct
/// made-up names can cost at that rate, whatever the request rate.
/// </summary>
public sealed class ReadBudget
{
    private readonly TimeProvider _time;
    private readonly int _perSecond;
    private readonly Lock _lock = new();
    private long _second = long.MinValue;
    private int _taken;

    public ReadBudget(TimeProvider time, int perSecond)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(perSecond, 0);
        _time = time;
        _perSecond = perSecond;
    }

    /// <summary>True when a read may be made now (and counts it).</summary>
    public bool TryTake()
    {
        var second = _time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            if (second != _second)
            {
                _second = second;
                _taken = 0;
            }

            if (_taken >= _perSecond)
            {
                return false;
            }

            _taken++;
            return true;
        }
    }
}
