namespace Serverless.Core.Routing;

/// <summary>The router's answer: status, JSON body and the answer headers to pass on.</summary>
public sealed record RoutedResponse(int StatusCode, byte[] Body, string? ModelVersion = null, string? ServedBy = null, string? Cache = null, int? RetryAfterSeconds = null)
{
    /// <summary>Passed on from the shard: where a missed model's bytes came from.</summary>
    public string? LoadSource { get; init; }
}
