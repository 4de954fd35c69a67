namespace Serverless.Core.Serving;

/// <summary>
/// The one place where <see cref="ServingErrorCode"/>s become HTTP statuses and back: the HTTP edge answers with
/// <see cref="ToStatus"/>, and the router reads a shard's answer with <see cref="FromStatus"/> (the shard is the
/// same platform, so the two directions are each other's inverse for every code but the two that share 500).
/// </summary>
public static class HttpStatusMapping
{
    public static int ToStatus(ServingErrorCode code) => code switch
    {
        ServingErrorCode.InvalidArgument => 400,
        ServingErrorCode.Unauthenticated => 401,
        ServingErrorCode.NotFound => 404,
        ServingErrorCode.Conflict => 409,
        ServingErrorCode.TooLarge => 413,
        ServingErrorCode.RateLimited => 429,
        ServingErrorCode.Unsupported => 501,
        ServingErrorCode.ModelFailed => 500,
        ServingErrorCode.Internal => 500,
        ServingErrorCode.Unavailable => 503,
        ServingErrorCode.DeadlineExceeded => 504,
        _ => 500,
    };

    /// <summary>The status of a result: 200 when it succeeded.</summary>
    public static int ToStatus(ServingResult result) => result?.Error is { } error ? ToStatus(error.Code) : 200;

    /// <summary>The code of an error answer from another part of the platform (a shard); statuses no code owns fall to the nearest.</summary>
    public static ServingErrorCode FromStatus(int status) => status switch
    {
        400 => ServingErrorCode.InvalidArgument,
        401 or 403 => ServingErrorCode.Unauthenticated,
        404 => ServingErrorCode.NotFound,
        409 or 412 => ServingErrorCode.Conflict,
        413 => ServingErrorCode.TooLarge,
        429 => ServingErrorCode.RateLimited,
        501 => ServingErrorCode.Unsupported,
        500 => ServingErrorCode.ModelFailed,
        503 => ServingErrorCode.Unavailable,
        504 or 408 => ServingErrorCode.DeadlineExceeded,
        >= 400 and < 500 => ServingErrorCode.InvalidArgument,
        _ => ServingErrorCode.Internal,
    };
}
