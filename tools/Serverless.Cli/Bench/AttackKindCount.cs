namespace Serverless.Cli.Bench;

/// <summary>One kind of attack's answers, as the attacker process reports them to the bench.</summary>
internal sealed record AttackKindCount(string Kind, int Expected, long Sent, long AsExpected, Dictionary<int, long> Other);
