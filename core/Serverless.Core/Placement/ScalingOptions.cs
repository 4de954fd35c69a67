using System.ComponentModel.DataAnnotations;

namespace Serverless.Core.Placement;

/// <summary>Per-model scaling settings (section <c>Scaling</c>).</summary>
public sealed class ScalingOptions
{
    public const string SectionName = "Scaling";

    /// <summary>
    /// Requests being served at once, on average, that one replica of a model should carry; above it the model
    /// gets another (Knative's concurrency target). Measured by the shards: the time each request spends being
    /// served (queueing for a run slot, the run, the answer), summed, per second. A model kept one request busy
    /// at all times has 1; a tiny model at 10,000 req/s that takes 30 µs each has 0.3 and needs no second
    /// replica, while a 20 ms model at 100 req/s has 2. Queueing raises it, so a replica falling behind scales out.
    /// </summary>
    [Range(0.001, 1024)]
    public double ConcurrencyPerReplica { get; set; } = 1;

    /// <summary>
    /// The share of a replica's CPU one model should use; above it the model gets another. A shard measures its
    /// process's CPU time and gives each model the part of it that matches the model's share of the time requests
    /// were being served. This is what scales a very fast model out: one served in 15 µs keeps few requests in
    /// flight even when its HTTP traffic saturates the instance. 0 turns it off (the local cluster, where every
    /// shard shares the same cores, so another replica adds no CPU).
    /// </summary>
    [Range(0, 1)]
    public double UtilizationPerReplica { get; set; } = 0.7;

    /// <summary>
    /// Requests per second one replica of a model should carry, as well; above it the model gets another.
    /// 0 (the default): the rate alone adds no replica, only <see cref="ConcurrencyPerReplica"/> does (a request
    /// rate says nothing of the work: 200 req/s is a whole core for one model and 0.1% of one for another).
    /// </summary>
    [Range(0, double.MaxValue)]
    public double RequestsPerReplica { get; set; }

    /// <summary>The most replicas a model can have.</summary>
    [Range(1, 256)]
    public int MaxReplicas { get; set; } = 8;

    /// <summary>How often a shard looks at its per-model traffic (seconds).</summary>
    [Range(1, 3600)]
    public int IntervalSeconds { get; set; } = 10;

    /// <summary>How long a model must need fewer replicas before it gives one back.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ScaleDownAfter { get; set; } = TimeSpan.FromSeconds(60);
}
