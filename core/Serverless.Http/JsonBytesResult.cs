using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Serverless.Core.Protocol;
using Serverless.Routing;
using Serverless.Core.Serving;

namespace Serverless.Http;

/// <summary>
/// An answer whose JSON body is already bytes (the codec wrote it, or a shard did), with the
/// platform's answer headers. Works under the Functions host and the local host alike: as an
/// <see cref="IResult"/> the local host writes it straight to the <see cref="HttpContext"/> (no MVC
/// <see cref="ActionContext"/> per request).
/// </summary>
public sealed class JsonBytesResult : IActionResult, IResult
{
    private const string JsonContentType = "application/json";
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

    /// <summary>
    /// The HTTP answer of a result: its body with 200, or its error as <c>{"error": "..."}</c> with the status
    /// <see cref="HttpStatusMapping"/> gives its code and, where the error asks the caller to come back, Retry-After.
    /// <paramref name="servedBy"/> names this shard when the result does not name one.
    /// </summary>
    public static JsonBytesResult From(ServingResult result, string? servedBy = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        var error = result.Error;
        return error is null
            ? new(200, result.Body, result.ModelVersion, result.ServedBy ?? servedBy, result.Cache) { _loadSource = result.LoadSource }
            : new(HttpStatusMapping.ToStatus(error.Code), JsonBodies.Error(error.Message), result.ModelVersion, result.ServedBy ?? servedBy, result.Cache, error.RetryAfterSeconds) { _loadSource = result.LoadSource };
    }

    /// <summary>The HTTP answer of an error (see <see cref="From(ServingResult, string?)"/>).</summary>
    public static JsonBytesResult From(ServingError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new(HttpStatusMapping.ToStatus(error.Code), JsonBodies.Error(error.Message), retryAfterSeconds: error.RetryAfterSeconds);
    }

    public Task ExecuteResultAsync(ActionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ExecuteAsync(context.HttpContext);
    }

    public Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var response = httpContext.Response;
        response.StatusCode = _statusCode;
        response.ContentType = JsonContentType;
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

        // The body pipe, not the Stream adapter over it: one copy into Kestrel's buffer, flushed once.
        return WriteBodyAsync(response, _body, httpContext.RequestAborted);
    }

    private static async Task WriteBodyAsync(HttpResponse response, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (!body.IsEmpty)
        {
            await response.BodyWriter.WriteAsync(body, cancellationToken).ConfigureAwait(false);
        }
    }
}
