namespace Serverless.Routing;

/// <summary>The headers between router, shards and clients.</summary>
public static class ShardHeaders
{
    /// <summary>Router → shard: the authenticated tenant.</summary>
    public const string Tenant = "x-serverless-tenant";

    /// <summary>Router (publisher, CLI) → shard: the internal key (<see cref="InternalKeyOptions"/>) without which <see cref="Tenant"/> is not trusted.</summary>
    public const string InternalKey = "x-serverless-internal-key";

    /// <summary>
    /// Router → shard: the SHA-256 of the version the router resolved. With the internal key, the shard may use a
    /// row of that version it kept from an earlier read (however old) when the hashes agree, instead of reading it.
    /// </summary>
    public const string ModelSha256 = "x-serverless-model-sha256";

    /// <summary>
    /// Router → shard: the milliseconds left of the router's deadline for this request; the shard stops the run
    /// (<c>RunOptions.Terminate</c>) when they have passed. A direct caller may send <see cref="RequestTimeout"/> instead.
    /// </summary>
    public const string Deadline = "x-serverless-deadline-ms";

    /// <summary>Client → router: a deadline (milliseconds) lower than the router's own for this request.</summary>
    public const string RequestTimeout = "x-request-timeout-ms";

    /// <summary>Answer: the version that served the request.</summary>
    public const string ModelVersion = "x-model-version";

    /// <summary>Answer: the shard id that ran the model.</summary>
    public const string ServedBy = "x-served-by";

    /// <summary>Answer: <c>hit</c> when the session was resident, <c>miss</c> when it was loaded.</summary>
    public const string Cache = "x-cache";

    /// <summary>Answer, on a cache miss: where the model's bytes came from, <c>disk</c> or <c>blob</c>.</summary>
    public const string LoadSource = "x-load-source";

    public const string ApiKey = "x-api-key";
}
