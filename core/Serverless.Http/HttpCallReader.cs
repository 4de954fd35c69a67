using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Serverless.Core.Protocol;
using Serverless.Routing;
using Serverless.Core.Serving;

namespace Serverless.Http;

/// <summary>
/// Reads what a v2 call carries over HTTP (credentials, the deadline header, the body), for the router's and the
/// shards' endpoints alike. What is wrong with a call comes out as a <see cref="ServingException"/> whose error the
/// endpoint answers (<see cref="JsonBytesResult.From(ServingError)"/>), never as the web host's own exception.
/// </summary>
public static class HttpCallReader
{
    /// <summary>The API key of <c>Authorization: Bearer …</c> or <c>x-api-key</c>, or null.</summary>
    public static string? ApiKey(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ApiKeyHeader.Read(request.Headers.Authorization.ToString(), request.Headers[ShardHeaders.ApiKey].ToString());
    }

    /// <summary>
    /// The body, whole, up to <paramref name="limitBytes"/>: over it, <see cref="ServingErrorCode.TooLarge"/>; an upload
    /// that breaks off, the web host's verdict (its status's code) naming why.
    /// </summary>
    public static Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, long limitBytes, CancellationToken cancellationToken) =>
        ReadBodyAsync(request, limitBytes, null, cancellationToken);

    /// <summary>As above, the buffer counted in <paramref name="account"/> before it grows (<see cref="BodyMemoryBudget"/>).</summary>
    public static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, long limitBytes, BodyMemory? account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // The web host's own body limit (Kestrel: 30,000,000 bytes by default) becomes ours, so a body under our limit
        // is read whole and one over it gets our 413.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } hostLimit)
        {
            hostLimit.MaxRequestBodySize = limitBytes;
        }

        try
        {
            return await RequestBody.ReadAsync(request.Body, request.ContentLength, limitBytes, account, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            // Kestrel's minimum body data rate (HttpLimits): the client sent too slowly, which is its fault, not a
            // deadline of ours (504 would send it looking for a slow server). The connection closes after the answer.
            throw new ServingException(new ServingError(ServingErrorCode.InvalidArgument, $"request body arrived too slowly, under the host's minimum data rate (HttpLimits__MinRequestBodyBytesPerSecond after HttpLimits__MinRequestBodyGraceSeconds): {e.Message}"), e);
        }
        catch (BadHttpRequestException e)
        {
            throw new ServingException(new ServingError(HttpStatusMapping.FromStatus(e.StatusCode), $"request body could not be read: {e.Message}"), e);
        }
    }

    /// <summary>
    /// The time a shard has for this call: the router's <see cref="ShardHeaders.Deadline"/>, else a direct caller's
    /// <see cref="ShardHeaders.RequestTimeout"/>; null when neither is a positive whole number of milliseconds (then
    /// only the caller going away stops the run).
    /// </summary>
    public static TimeSpan? ShardDeadline(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var headers = request.Headers;
        var value = headers[ShardHeaders.Deadline].ToString();
        if (value.Length == 0)
        {
            value = headers[ShardHeaders.RequestTimeout].ToString();
        }

        return value.Length > 0 && long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms) && ms > 0
            ? TimeSpan.FromMilliseconds(Math.Min(ms, (long)TimeSpan.FromHours(1).TotalMilliseconds))
            : null;
    }

    /// <summary>Who a shard serves for this call (<see cref="ShardCallerAuthenticator"/>), or null (401).</summary>
    public static ValueTask<ShardCaller?> ShardCallerAsync(ShardCallerAuthenticator authenticator, HttpRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(authenticator);
        ArgumentNullException.ThrowIfNull(request);
        var headers = request.Headers;
        return authenticator.ResolveCallerAsync(
            headers[ShardHeaders.Tenant].ToString(),
            headers[ShardHeaders.InternalKey].ToString(),
            headers.Authorization.ToString(),
            headers[ShardHeaders.ApiKey].ToString(),
            cancellationToken);
    }

    /// <summary>The SHA-256 the router resolved for this call, when the router sent it (<see cref="ShardCallerAuthenticator.RoutedModelSha256"/>).</summary>
    public static string? RoutedModelSha256(ShardCallerAuthenticator authenticator, HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(authenticator);
        ArgumentNullException.ThrowIfNull(request);
        var headers = request.Headers;
        return authenticator.RoutedModelSha256(
            headers[ShardHeaders.ModelSha256].ToString(),
            headers[ShardHeaders.Tenant].ToString(),
            headers[ShardHeaders.InternalKey].ToString(),
            headers.Authorization.ToString(),
            headers[ShardHeaders.ApiKey].ToString());
    }
}
