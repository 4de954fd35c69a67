namespace Serverless.Cli.Bench;

/// <summary>
/// What one run of the attacker process (<c>serverless bench-attack</c>) sent and got back: per kind of attack the
/// answers, every HTTP attack's latency (ms, from its due time) and when the server cut each slow body (s).
/// </summary>
internal sealed record AttackReport(IReadOnlyList<AttackKindCount> Kinds, double[] LatenciesMs, double[] SlowCutSeconds);
