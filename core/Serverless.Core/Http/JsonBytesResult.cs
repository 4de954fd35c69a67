using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Serverless.Core.Routing;
using Serverless.Core.Scoring;

namespace Serverless.Core.Http;

/// <summary>
/// An answer whose JSON body is already bytes (the codec wrote it, or a shard did), with the
/// platform's answer headers. Works under the Functions host and the local host alike.
/// </summary>
public sealed class JsonBytesResult : IActionResult
{
    private readonly int _statusCode;
    private readonly ReadOnlyMemory<byte> _body;
    private readonly string? _modelVersion;
    private readonly string? _servedBy;
    private readonly string? _cache;
    private readonly int? _retryAfterSeconds;
    private string? _loadSource;

    public JsonBytesResult(int statusCode, ReadOnlyMemory<byte> body, string? modelVersion = null, string? servedBy = null, string? cache = null, int? retryAfterSeconds = null)
    {
        _statusCode = statusCode;
        _body = body;
        _modelVersion = modelVersion;
        _servedBy = servedBy;
        _cache = cache;
        _retryAfterSeconds = retryAfterSeconds;
    }

    public static JsonBytesResult From(RoutedResponse response) =>
        new(response.StatusCode, response.Body, response.ModelVersion, response.ServedBy, response.Cache, response.RetryAfterSeconds) { _loadSource = response.LoadSource };

    public static JsonBytesResult From(ScoringResult result, string? servedBy) =>
        new(result.StatusCode, result.Body, result.ModelVersion, servedBy, result.CacheHit switch { true => "hit", false => "miss", null => null }, result.RetryAfterSeconds) { _loadSource = result.LoadSource };

    public async Task ExecuteResultAsync(ActionContext context)
    {
        var response = context.HttpContext.Response;
        response.StatusCode = _statusCode;
        response.ContentType = "application/json";
        response.ContentLength = _body.Length;
        if (_modelVersion is not null)
        {
            response.Headers[ShardHeaders.ModelVersion] = _modelVersion;
        }

        if (_servedBy is not null)
        {
            response.Headers[ShardHeaders.ServedBy] = _servedBy;
        }

        if (_cache is not null)
        {
            response.Headers[ShardHeaders.Cache] = _cache;
        }

        if (_loadSource is not null)
        {
            response.Headers[ShardHeaders.LoadSource] = _loadSource;
        }

        if (_retryAfterSeconds is { } retryAfter)
        {
            response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        await response.Body.WriteAsync(_body, context.HttpContext.RequestAborted).ConfigureAwait(false);
    }
}
