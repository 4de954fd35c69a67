using System.ComponentModel.DataAnnotations;

namespace Serverless.Core.Placement;

/// <summary>Per-model scaling settings (section <c>Scaling</c>).</summary>
public sealed class ScalingOptions
{
    public const string SectionName = "Scaling";

    /// <summary>Requests per second one replica of a model should carry; above it the model gets another.</summary>
    [Range(0.001, double.MaxValue)]
    public double RequestsPerReplica { get; set; } = 200;

    /// <summary>The most replicas a model can have.</summary>
    [Range(1, 256)]
    public int MaxReplicas { get; set; } = 8;

    /// <summary>How often a shard looks at its per-model request rates (seconds).</summary>
    [Range(1, 3600)]
    public int IntervalSeconds { get; set; } = 10;

    /// <summary>How long a model must need fewer replicas before it gives one back.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ScaleDownAfter { get; set; } = TimeSpan.FromSeconds(60);
}
