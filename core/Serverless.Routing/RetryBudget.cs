namespace Serverless.Routing;

/// <summary>
/// Bounds retries to a share of the traffic (as Finagle's and gRPC's retry budgets do): every request
/// deposits <see cref="Ratio"/> of a token, every retry withdraws one, and a small reserve of tokens
/// refills each second so a quiet router can still retry. When a shard fails, retries to its
/// replicas can then add at most ~<see cref="Ratio"/> to the load, never double it.
/// </summary>
public sealed class RetryBudget
{
    public const double Ratio = 0.2;
    private const double MaxTokens = 1000;
    private const double ReservePerSecond = 10;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private double _tokens = ReservePerSecond;
    private long _lastRefill;

    public RetryBudget(TimeProvider time)
    {
        _time = time;
        _lastRefill = time.GetTimestamp();
    }

    /// <summary>Counts a request towards the budget.</summary>
    public void Deposit()
    {
        lock (_gate)
        {
            _tokens = Math.Min(MaxTokens, _tokens + Ratio);
        }
    }

    /// <summary>True (and spends a token) when a retry is within the budget.</summary>
    public bool TryWithdraw()
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            var elapsed = _time.GetElapsedTime(_lastRefill, now).TotalSeconds;
            if (elapsed > 0)
            {
                _tokens = Math.Min(MaxTokens, Math.Max(_tokens, Math.Min(ReservePerSecond, _tokens + (elapsed * ReservePerSecond))));
                _lastRefill = now;
            }

            if (_tokens < 1)
            {
                return false;
            }

            _tokens--;
            return true;
        }
    }
}
