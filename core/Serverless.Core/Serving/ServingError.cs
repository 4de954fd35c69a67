namespace Serverless.Core.Serving;

/// <summary>
/// A request that cannot be answered: a <see cref="ServingErrorCode"/>, a message naming what is wrong (it reaches
/// the caller as it is), and, where the caller should come back, when. The one error value of the core; each edge
/// turns it into its transport's status (<see cref="HttpStatusMapping"/>).
/// </summary>
public sealed record ServingError(ServingErrorCode Code, string Message, TimeSpan? RetryAfter = null)
{
    /// <summary>The wait the platform asks for when storage or a replica is away, or a queue is full.</summary>
    public static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromSeconds(1);

    public static ServingError InvalidArgument(string message) => new(ServingErrorCode.InvalidArgument, message);

    public static ServingError Unauthenticated(string message) => new(ServingErrorCode.Unauthenticated, message);

    public static ServingError NotFound(string message) => new(ServingErrorCode.NotFound, message);

    public static ServingError Conflict(string message) => new(ServingErrorCode.Conflict, message);

    public static ServingError TooLarge(string message) => new(ServingErrorCode.TooLarge, message);

    public static ServingError RateLimited(string message, TimeSpan retryAfter) => new(ServingErrorCode.RateLimited, message, retryAfter);

    public static ServingError Unsupported(string message) => new(ServingErrorCode.Unsupported, message);

    public static ServingError ModelFailed(string message) => new(ServingErrorCode.ModelFailed, message);

    public static ServingError Internal(string message) => new(ServingErrorCode.Internal, message);

    public static ServingError Unavailable(string message) => new(ServingErrorCode.Unavailable, message, DefaultRetryAfter);

    public static ServingError Unavailable(string message, TimeSpan retryAfter) => new(ServingErrorCode.Unavailable, message, retryAfter);

    public static ServingError DeadlineExceeded(string message) => new(ServingErrorCode.DeadlineExceeded, message);

    /// <summary>Seconds for a Retry-After header (rounded up, at least 1), or null when there is no wait to ask for.</summary>
    public int? RetryAfterSeconds => RetryAfter is { } wait ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : null;
}
