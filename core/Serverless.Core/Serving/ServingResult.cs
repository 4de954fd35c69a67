namespace Serverless.Core.Serving;

/// <summary>
/// What a service answers, whatever the transport: the protocol's JSON body of a success, or a
/// <see cref="ServingError"/>; and the facts that go into answer headers (version served, the shard, cache
/// hit or miss, where a missed model's bytes came from).
/// </summary>
public sealed class ServingResult
{
    /// <summary>A success (<paramref name="error"/> null, <paramref name="body"/> its JSON) or a failure (<paramref name="body"/> empty).</summary>
    public ServingResult(byte[] body, ServingError? error, string? modelVersion)
    {
        ArgumentNullException.ThrowIfNull(body);
        Body = body;
        Error = error;
        ModelVersion = modelVersion;
    }

    /// <summary>A success with its JSON body.</summary>
    public static ServingResult Success(byte[] body, string? modelVersion = null) =>
        new(body ?? throw new ArgumentNullException(nameof(body)), null, modelVersion);

    /// <summary>A failure; <paramref name="modelVersion"/> when a version was resolved or asked for.</summary>
    public static ServingResult Failure(ServingError error, string? modelVersion = null) =>
        new([], error ?? throw new ArgumentNullException(nameof(error)), modelVersion);

    /// <summary>The JSON body of a success (empty for a failure: the edge writes the error in its transport's form).</summary>
    public byte[] Body { get; }

    /// <summary>Null on success.</summary>
    public ServingError? Error { get; }

    public bool IsSuccess => Error is null;

    public string? ModelVersion { get; }

    /// <summary>The shard that served it (the router passes on the shard's; a shard's edge names itself).</summary>
    public string? ServedBy { get; init; }

    /// <summary>Whether the session was resident: true (hit), false (miss, loaded for this request), or null (no session involved).</summary>
    public bool? CacheHit { get; init; }

    /// <summary>On a cache miss, where the model's bytes came from: <c>disk</c> (the local tier) or <c>blob</c>.</summary>
    public string? LoadSource { get; init; }

    /// <summary>The <c>x-cache</c> header's value.</summary>
    public string? Cache => CacheHit switch { true => "hit", false => "miss", null => null };
}
