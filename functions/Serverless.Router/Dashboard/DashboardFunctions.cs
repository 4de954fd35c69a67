using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Http;
using Serverless.Core.Observability;
using Serverless.Core.Protocol;
using Serverless.Routing;

namespace Serverless.Router.Dashboard;

/// <summary>
/// <c>GET /dashboard</c> (the page) and <c>GET /dashboard/data</c> (its figures as JSON, polled every 2 s),
/// both behind the admin key (<c>Router__AdminKey</c>) given as <c>?key=</c>, header <c>x-admin-key</c>, or
/// the cookie the page sets on its first load.
/// </summary>
public sealed class DashboardFunctions
{
    private const string CookieName = "serverless-admin";
    private readonly DashboardService _dashboard;

    public DashboardFunctions(DashboardService dashboard)
    {
        _dashboard = dashboard;
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

        return new BytesResult(200, "text/html; charset=utf-8", Encoding.UTF8.GetBytes(DashboardPage.Html), key);
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
        return new BytesResult(200, "application/json", JsonSerializer.SerializeToUtf8Bytes(data, DashboardJsonContext.Default.DashboardData), null);
    }

    private static string? PresentedKey(HttpRequest request)
    {
        var key = request.Query["key"].ToString();
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

    private static JsonBytesResult Unauthorized() =>
        new(401, JsonBodies.Error($"the dashboard needs the admin key (Router__AdminKey; locally \"adminKey\" in .serverless/local.json): add ?key=<key> or send header '{DashboardService.AdminKeyHeader}'"));

    /// <summary>A body of bytes with a content type; on the page, the admin key goes into an HttpOnly cookie for the page's polls.</summary>
    private sealed class BytesResult(int status, string contentType, byte[] body, string? adminKey) : IActionResult
    {
        public async Task ExecuteResultAsync(ActionContext context)
        {
            var response = context.HttpContext.Response;
            response.StatusCode = status;
            response.ContentType = contentType;
            response.ContentLength = body.Length;
            response.Headers.CacheControl = "no-store";
            if (adminKey is not null)
            {
                response.Cookies.Append(CookieName, adminKey, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/dashboard", Secure = context.HttpContext.Request.IsHttps });
            }

            await response.Body.WriteAsync(body, context.HttpContext.RequestAborted).ConfigureAwait(false);
        }
    }
}
