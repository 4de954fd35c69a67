namespace Serverless.Core.Scoring;

/// <summary>What a shard answers: status, JSON body, and the facts that go into answer headers.</summary>
public sealed record ScoringResult(int StatusCode, byte[] Body, string? ModelVersion = null, bool? CacheHit = null)
{
    /// <summary>On a cache miss, where the model's bytes came from: <c>disk</c> (the local tier) or <c>blob</c>.</summary>
    public string? LoadSource { get; init; }

    /// <summary>Seconds for a Retry-After header (429, 503), when the caller should come back.</summary>
    public int? RetryAfterSeconds { get; init; }
}
