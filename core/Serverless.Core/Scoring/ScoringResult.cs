namespace Serverless.Core.Scoring;

/// <summary>What a shard answers: status, JSON body, and the facts that go into answer headers.</summary>
public sealed record ScoringResult(int StatusCode, byte[] Body, string? ModelVersion = null, bool? CacheHit = null);
