using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Core.Http;
using Serverless.Core.Observability;
using Serverless.Core.Protocol;
using Serverless.Core.Routing;
using Serverless.Core.Scoring;
using Serverless.Core.Tenancy;

namespace Serverless.Router;

/// <summary>v2 inference: authenticate, then forward to a replica of the model.</summary>
public sealed class InferFunction
{
    private readonly RouterService _router;
    private readonly ServerlessMetrics _metrics;

    public InferFunction(RouterService router, ServerlessMetrics metrics)
    {
        _router = router;
        _metrics = metrics;
    }

    [Function("Infer")]
    public Task<IActionResult> Infer(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v2/models/{model}/infer")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        InferAsync(request, model, null, cancellationToken);

    [Function("InferVersion")]
    public Task<IActionResult> InferVersion(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v2/models/{model}/versions/{version}/infer")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        InferAsync(request, model, version, cancellationToken);

    private async Task<IActionResult> InferAsync(HttpRequest request, string model, string? version, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Tenant? tenant;
        try
        {
            tenant = await _router.AuthenticateAsync(TenantAuthentication.ApiKey(request), cancellationToken).ConfigureAwait(false);
        }
        catch (ScoringException e)
        {
            // Table storage away and this tenant not read before: 503, retry.
            return new JsonBytesResult(e.StatusCode, JsonBodies.Error(e.Message));
        }

        if (tenant is null)
        {
            return JsonBytesResult.From(RouterService.Unauthorized());
        }

        if (!RouterService.TryParseRequestTimeout(request.Headers[ShardHeaders.RequestTimeout].ToString(), _router.RequestTimeout, out var timeout, out var timeoutError))
        {
            return new JsonBytesResult(400, JsonBodies.Error(timeoutError!));
        }

        try
        {
            // The web host's own body limit (Kestrel: 30,000,000 bytes by default) becomes ours, so a body under
            // our limit is read whole and one over it gets our 413.
            if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } hostLimit)
            {
                hostLimit.MaxRequestBodySize = _router.MaxBodyBytes;
            }

            var body = await RequestBody.ReadAsync(request.Body, request.ContentLength, _router.MaxBodyBytes, cancellationToken).ConfigureAwait(false);
            return JsonBytesResult.From(_metrics.Routed(tenant.Name, model, await _router.InferAsync(tenant, model, version, body, timeout, cancellationToken).ConfigureAwait(false), started));
        }
        catch (ScoringException e)
        {
            return new JsonBytesResult(e.StatusCode, JsonBodies.Error(e.Message));
        }
        catch (BadHttpRequestException e)
        {
            // The web host's own body limit (Kestrel's MaxRequestBodySize) or a broken upload: the host's status (413, 400).
            return new JsonBytesResult(e.StatusCode, JsonBodies.Error($"request body could not be read: {e.Message}"));
        }
    }
}
