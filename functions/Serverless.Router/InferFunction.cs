using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Core.Http;
using Serverless.Core.Protocol;
using Serverless.Core.Routing;
using Serverless.Core.Scoring;

namespace Serverless.Router;

/// <summary>v2 inference: authenticate, then forward to a replica of the model.</summary>
public sealed class InferFunction
{
    private readonly RouterService _router;

    public InferFunction(RouterService router)
    {
        _router = router;
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
        var tenant = await _router.AuthenticateAsync(TenantAuthentication.ApiKey(request), cancellationToken).ConfigureAwait(false);
        if (tenant is null)
        {
            return JsonBytesResult.From(RouterService.Unauthorized());
        }

        try
        {
            var body = await RequestBody.ReadAsync(request.Body, request.ContentLength, _router.MaxBodyBytes, cancellationToken).ConfigureAwait(false);
            return JsonBytesResult.From(await _router.InferAsync(tenant, model, version, body, cancellationToken).ConfigureAwait(false));
        }
        catch (ScoringException e)
        {
            return new JsonBytesResult(e.StatusCode, JsonBodies.Error(e.Message));
        }
    }
}
