namespace Serverless.Core.Protocol;

/// <summary>The error body of every non-2xx answer: <c>{"error": "message"}</c>.</summary>
public sealed record ErrorResponse(string Error);
