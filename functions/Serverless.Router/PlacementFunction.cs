using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Core.Http;
using Serverless.Core.Routing;

namespace Serverless.Router;

/// <summary>
/// Direct mode: <c>GET /v2/models/{model}[/versions/{version}]/placement</c> answers the model's replica
/// URLs (primary first), so a client library can skip the router hop. Authenticated like every call.
/// </summary>
public sealed class PlacementFunction
{
    private readonly RouterService _router;

    public PlacementFunction(RouterService router)
    {
        _router = router;
    }

    [Function("ModelPlacement")]
    public Task<IActionResult> Placement(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/placement")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        AnswerAsync(request, model, null, cancellationToken);

    [Function("ModelVersionPlacement")]
    public Task<IActionResult> VersionPlacement(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/versions/{version}/placement")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        AnswerAsync(request, model, version, cancellationToken);

    private async Task<IActionResult> AnswerAsync(HttpRequest request, string model, string? version, CancellationToken cancellationToken)
    {
        var tenant = await _router.AuthenticateAsync(TenantAuthentication.ApiKey(request), cancellationToken).ConfigureAwait(false);
        return JsonBytesResult.From(tenant is null ? RouterService.Unauthorized() : await _router.PlacementAsync(tenant, model, version, cancellationToken).ConfigureAwait(false));
    }
}
