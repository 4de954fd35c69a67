namespace Serverless.Core.Protocol;

/// <summary>The health answer: <c>{"live":true}</c> or <c>{"ready":true}</c> with optional details.</summary>
public sealed record HealthResponse(bool? Live = null, bool? Ready = null, string? Detail = null, string? ExecutionProvider = null);
