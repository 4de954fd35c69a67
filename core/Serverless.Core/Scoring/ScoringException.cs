namespace Serverless.Core.Scoring;

/// <summary>A request that cannot be answered, with the HTTP status and a message naming what is wrong.</summary>
public sealed class ScoringException : Exception
{
    public ScoringException()
    {
    }

    public ScoringException(string message)
        : this(400, message)
    {
    }

    public ScoringException(string message, Exception innerException)
        : base(message, innerException)
    {
        StatusCode = 500;
    }

    public ScoringException(int statusCode, string message)
        : base(message)
    {
        StatusCode = statusCode;
    }

    public ScoringException(int statusCode, string message, Exception innerException)
        : base(message, innerException)
    {
        StatusCode = statusCode;
    }

    public int StatusCode { get; }
}
