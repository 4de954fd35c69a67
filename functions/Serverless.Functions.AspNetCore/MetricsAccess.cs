using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Serverless.Core.Protocol;
using Serverless.Routing;

namespace Serverless.Functions.AspNetCore;

/// <summary>
/// Who may scrape <c>/metrics</c>: its series name every tenant and model the app has served, so it is the
/// platform's own, like the shards' tenant header. With an internal key configured (<c>Internal__ShardKey</c>;
/// the previous key too during a rotation) the scraper sends it as <c>x-serverless-internal-key</c> or as
/// <c>Authorization: Bearer</c> (which Prometheus's <c>authorization</c> scrape setting sends). Without one only
/// loopback callers are served, so a development host without a key still shows its figures to its own machine.
/// </summary>
public static class MetricsAccess
{
    /// <summary>The answer to a scrape without the key: what to send, and where the key is.</summary>
    public const string NeedsKeyMessage =
        "/metrics needs the internal key (Internal__ShardKey; locally \"internalKey\" in .serverless/local.json): send header '"
        + ShardHeaders.InternalKey + ": <key>' or 'Authorization: Bearer <key>'";

    /// <summary>The answer to a scrape from another machine when this app has no internal key to check.</summary>
    public const string NoKeyConfiguredMessage =
        "/metrics is served only to loopback callers: this app has no internal key (Internal__ShardKey is empty) to check a remote scraper's";

    /// <summary>Middleware for the scrape endpoint's branch: answers 401 unless <see cref="IsAllowed"/>.</summary>
    public static async Task RequireKeyAsync(HttpContext context, RequestDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var options = context.RequestServices.GetService<IOptions<InternalKeyOptions>>()?.Value;
        if (IsAllowed(context.Request, options))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var body = JsonBodies.Error(options is { IsConfigured: true } ? NeedsKeyMessage : NoKeyConfiguredMessage);
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>True when the request carries the internal key, or when no key is configured and it comes from loopback.</summary>
    public static bool IsAllowed(HttpRequest request, InternalKeyOptions? options)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (options is not { IsConfigured: true })
        {
            return request.HttpContext.Connection.RemoteIpAddress is { } address && IPAddress.IsLoopback(address);
        }

        return options.Matches(request.Headers[ShardHeaders.InternalKey].ToString()) || options.Matches(BearerToken(request));
    }

    private static string? BearerToken(HttpRequest request)
    {
        const string scheme = "Bearer ";
        var value = request.Headers.Authorization.ToString();
        return value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? value[scheme.Length..].Trim() : null;
    }
}
