namespace Serverless.Core.Serving;

/// <summary>
/// Carries a <see cref="ServingError"/> out of code that cannot return one (a parser deep in a request, a cache
/// read), as <c>Azure.RequestFailedException</c> carries its status: services catch it where they answer and
/// return the error as a value, and the edges catch what is left in one place.
/// </summary>
public sealed class ServingException : Exception
{
    public ServingException()
        : this(ServingError.Internal("the request could not be served"))
    {
    }

    public ServingException(string message)
        : this(ServingError.InvalidArgument(message))
    {
    }

    public ServingException(string message, Exception innerException)
        : this(ServingError.Internal(message), innerException)
    {
    }

    public ServingException(ServingError error)
        : base((error ?? throw new ArgumentNullException(nameof(error))).Message)
    {
        Error = error;
    }

    public ServingException(ServingError error, Exception? innerException)
        : base((error ?? throw new ArgumentNullException(nameof(error))).Message, innerException)
    {
        Error = error;
    }

    /// <summary>An error of <paramref name="code"/>; <see cref="ServingErrorCode.Unavailable"/> asks for <see cref="ServingError.DefaultRetryAfter"/>.</summary>
    public ServingException(ServingErrorCode code, string message)
        : this(new ServingError(code, message, code == ServingErrorCode.Unavailable ? ServingError.DefaultRetryAfter : null))
    {
    }

    public ServingError Error { get; }

    public ServingErrorCode Code => Error.Code;
}
