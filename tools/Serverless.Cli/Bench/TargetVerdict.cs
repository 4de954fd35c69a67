namespace Serverless.Cli.Bench;

/// <summary>One target of issue 5, what was measured against it and whether it is met (null: not measured in this run).</summary>
internal sealed record TargetVerdict(string Target, string Measured, string Limit, bool? Met, double? Margin);
