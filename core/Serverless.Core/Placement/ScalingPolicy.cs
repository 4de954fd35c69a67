namespace Serverless.Core.Placement;

/// <summary>
/// How many replicas a model should have for its traffic: enough that none carries more than
/// <see cref="ScalingOptions.ConcurrencyPerReplica"/> requests being served at once on average, nor uses more than
/// <see cref="ScalingOptions.UtilizationPerReplica"/> of its CPU (and, when set, more than
/// <see cref="ScalingOptions.RequestsPerReplica"/> per second), growing at once under load and
/// shrinking one replica at a time only after the model has needed fewer for <see cref="ScalingOptions.ScaleDownAfter"/>
/// (hysteresis, so a model near the threshold does not flap). Pure: the autoscaler and <c>serverless simulate</c>
/// run this same code.
/// </summary>
public sealed class ScalingPolicy
{
    private readonly ScalingOptions _options;

    public ScalingPolicy(ScalingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <summary>
    /// The replicas the traffic alone calls for, between 1 and the maximum. Each figure is the model's total over all
    /// its replicas: <paramref name="requestsPerSecond"/>, <paramref name="concurrency"/> (busy seconds per second)
    /// and <paramref name="utilization"/> (replicas' worth of CPU: 1.5 is one and a half replicas' cores kept busy).
    /// </summary>
    public int ReplicasFor(double requestsPerSecond, double concurrency, double utilization = 0)
    {
        var wanted = Math.Max(Needed(concurrency, _options.ConcurrencyPerReplica), Math.Max(Needed(utilization, _options.UtilizationPerReplica), Needed(requestsPerSecond, _options.RequestsPerReplica)));
        return (int)Math.Clamp(wanted, 1, _options.MaxReplicas);

        // A target of 0 is off: that figure calls for no replica.
        static double Needed(double total, double perReplica) => perReplica > 0 ? Math.Ceiling(Math.Max(0, total) / perReplica) : 0;
    }

    /// <summary>
    /// The replica count to set now, given the current one and how long the model has needed fewer than it
    /// (<paramref name="belowSince"/>: zero when it needs at least the current count).
    /// </summary>
    public int Decide(double requestsPerSecond, double concurrency, double utilization, int currentReplicas, TimeSpan belowSince)
    {
        var wanted = ReplicasFor(requestsPerSecond, concurrency, utilization);
        if (wanted >= currentReplicas)
        {
            return wanted;
        }

        return belowSince >= _options.ScaleDownAfter ? currentReplicas - 1 : currentReplicas;
    }
}
