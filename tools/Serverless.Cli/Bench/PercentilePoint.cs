namespace Serverless.Cli.Bench;

/// <summary>One point of a latency-percentile curve: the latency (ms) below which <see cref="Percentile"/>% of requests finished.</summary>
internal sealed record PercentilePoint(double Percentile, double LatencyMs);
