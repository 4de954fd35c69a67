using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Serverless.Http;
using Serverless.Core.Observability;
using Serverless.Core.Protocol;
using Serverless.Routing;

namespace Serverless.Router.Dashboard;

/// <summary>
/// <c>GET /dashboard</c> (the page) and <c>GET /dashboard/data</c> (its figures as JSON, polled every 2 s),
/// both behind the admin key (<c>Router__AdminKey</c>) given as <c>?key=</c>, header <c>x-admin-key</c>, or
/// the cookie the page sets. A page request with a right <c>?key=</c> is answered 303 to the same address without
/// it, setting the cookie, so the key leaves the address bar, the history and any Referer.
/// </summary>
public sealed class DashboardFunctions
{
    private const string CookieName = "serverless-admin";
    private const string KeyParameter = "key";

    /// <summary>Set by App Service in every Azure Functions app: there the cookie is always <c>Secure</c>.</summary>
    private static readonly string[] AzureMarkers = ["WEBSITE_SITE_NAME", "WEBSITE_INSTANCE_ID"];

    private readonly DashboardService _dashboard;
    private readonly bool _inAzure;

    public DashboardFunctions(DashboardService dashboard, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        _dashboard = dashboard;
        _inAzure = AzureMarkers.Any(name => !string.IsNullOrEmpty(configuration[name]));
    }

    [Function("Dashboard")]
    public IActionResult Page([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "dashboard")] HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var key = PresentedKey(request);
        if (!_dashboard.IsAdmin(key))
        {
            return Unauthorized();
        }

        if (!string.IsNullOrEmpty(request.Query[KeyParameter].ToString()))
        {
            return new KeyCookieRedirect(AddressWithoutKey(request), key!, CookieIsSecure(request));
        }

        return new BytesResult(200, "text/html; charset=utf-8", Encoding.UTF8.GetBytes(DashboardPage.Html));
    }

    [Function("DashboardData")]
    public async Task<IActionResult> Data([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "dashboard/data")] HttpRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_dashboard.IsAdmin(PresentedKey(request)))
        {
            return Unauthorized();
        }

        var minutes = int.TryParse(request.Query["minutes"].ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var m) ? m : 5;
        var data = await _dashboard.GetAsync(minutes, cancellationToken).ConfigureAwait(false);
        return new BytesResult(200, "application/json", JsonSerializer.SerializeToUtf8Bytes(data, DashboardJsonContext.Default.DashboardData));
    }

    private static string? PresentedKey(HttpRequest request)
    {
        var key = request.Query[KeyParameter].ToString();
        if (string.IsNullOrEmpty(key))
        {
            key = request.Headers[DashboardService.AdminKeyHeader].ToString();
        }

        if (string.IsNullOrEmpty(key))
        {
            key = request.Cookies[CookieName];
        }

        return key;
    }

    /// <summary>
    /// <c>Secure</c> whenever the browser reached us over HTTPS: in Azure always (the Functions front end ends TLS,
    /// so <see cref="HttpRequest.IsHttps"/> is false there and the app sees plain HTTP), behind any proxy that says
    /// so in <c>X-Forwarded-Proto</c>, or on a TLS connection. Plain HTTP on loopback (the local cluster) stays
    /// without it, or the browser would drop the cookie.
    /// </summary>
    private bool CookieIsSecure(HttpRequest request) =>
        _inAzure
        || request.IsHttps
        || request.Headers["X-Forwarded-Proto"].ToString().Split(',')[0].Trim().Equals("https", StringComparison.OrdinalIgnoreCase);

    /// <summary>The request's path and query, less every <c>key</c> parameter (relative: it stays on the host the browser used).</summary>
    private static string AddressWithoutKey(HttpRequest request)
    {
        var rest = request.Query
            .Where(p => !p.Key.Equals(KeyParameter, StringComparison.OrdinalIgnoreCase))
            .SelectMany(p => p.Value.Select(v => new KeyValuePair<string, string?>(p.Key, v)));
        return (request.PathBase + request.Path).ToString() + QueryString.Create(rest).ToUriComponent();
    }

    private static JsonBytesResult Unauthorized() =>
        new(401, JsonBodies.Error($"the dashboard needs the admin key (Router__AdminKey; locally \"adminKey\" in .serverless/local.json): add ?key=<key> or send header '{DashboardService.AdminKeyHeader}'"));

    /// <summary>A body of bytes with a content type, never cached.</summary>
    private sealed class BytesResult(int status, string contentType, byte[] body) : IActionResult
    {
        public async Task ExecuteResultAsync(ActionContext context)
        {
            var response = context.HttpContext.Response;
            response.StatusCode = status;
            response.ContentType = contentType;
            response.ContentLength = body.Length;
            response.Headers.CacheControl = "no-store";
            await response.Body.WriteAsync(body, context.HttpContext.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// 303 See Other to <paramref name="location"/>, putting the admin key in an HttpOnly, SameSite=Strict cookie for the
    /// page and its polls; the browser follows with a GET that carries the cookie and no key in the address.
    /// </summary>
    private sealed class KeyCookieRedirect(string location, string adminKey, bool secure) : IActionResult
    {
        public Task ExecuteResultAsync(ActionContext context)
        {
            var response = context.HttpContext.Response;
            response.StatusCode = StatusCodes.Status303SeeOther;
            response.Headers.Location = location;
            response.Headers.CacheControl = "no-store";
            // The address with the key was just seen: ask the browser not to send it onwards either.
            response.Headers["Referrer-Policy"] = "no-referrer";
            response.Cookies.Append(CookieName, adminKey, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/dashboard", Secure = secure });
            response.ContentLength = 0;
            return Task.CompletedTask;
        }
    }
}
