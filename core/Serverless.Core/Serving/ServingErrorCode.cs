namespace Serverless.Core.Serving;

/// <summary>
/// Why a request could not be answered, in terms no transport owns (as Triton's core <c>Status::Code</c>): each
/// edge chooses its own status from it in one place (<see cref="HttpStatusMapping"/> for HTTP; the gRPC gateway
/// maps to <c>Grpc.Core.StatusCode</c> the same way).
/// </summary>
public enum ServingErrorCode
{
    /// <summary>The request is wrong: a name, a datatype, a shape, the JSON. HTTP 400, gRPC INVALID_ARGUMENT.</summary>
    InvalidArgument,

    /// <summary>No credentials, or ones nobody issued. HTTP 401, gRPC UNAUTHENTICATED.</summary>
    Unauthenticated,

    /// <summary>No such model or version (also another tenant's, a retired one, one a shard does not serve). HTTP 404, gRPC NOT_FOUND.</summary>
    NotFound,

    /// <summary>What exists differs: a version with other bytes, a stale ETag. HTTP 409, gRPC ALREADY_EXISTS / ABORTED.</summary>
    Conflict,

    /// <summary>A body or tensor over a limit. HTTP 413, gRPC RESOURCE_EXHAUSTED.</summary>
    TooLarge,

    /// <summary>The tenant (or a model's queue) is over its quota; comes back after <see cref="ServingError.RetryAfter"/>. HTTP 429, gRPC RESOURCE_EXHAUSTED.</summary>
    RateLimited,

    /// <summary>What the request asks for exists but the protocol cannot carry it (a sequence output in JSON). HTTP 501, gRPC UNIMPLEMENTED.</summary>
    Unsupported,

    /// <summary>The model ran and failed on valid input. HTTP 500, gRPC INTERNAL.</summary>
    ModelFailed,

    /// <summary>A fault of the platform's own, not the request's. HTTP 500, gRPC INTERNAL.</summary>
    Internal,

    /// <summary>Storage or every replica is away for now; retry after <see cref="ServingError.RetryAfter"/>. HTTP 503, gRPC UNAVAILABLE.</summary>
    Unavailable,

    /// <summary>The request's deadline passed before an answer. HTTP 504, gRPC DEADLINE_EXCEEDED.</summary>
    DeadlineExceeded,
}
