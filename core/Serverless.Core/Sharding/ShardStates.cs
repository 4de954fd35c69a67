namespace Serverless.Core.Sharding;

/// <summary>The states of a shard in Table <c>shards</c>.</summary>
public static class ShardStates
{
    public const string Active = "Active";
    public const string Draining = "Draining";
    public const string Stopped = "Stopped";
}
