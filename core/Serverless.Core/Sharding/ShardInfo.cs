namespace Serverless.Core.Sharding;

/// <summary>A live shard as the router sees it.</summary>
public sealed record ShardInfo(string Id, string Pool, Uri BaseUrl);
