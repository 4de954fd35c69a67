using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Http;

namespace Serverless.Router;

/// <summary>
/// Direct mode: <c>GET /v2/models/{model}[/versions/{version}]/placement</c> answers the model's replica
/// URLs (primary first), so a client library can skip the router hop. Authenticated like every call.
/// </summary>
public sealed class PlacementFunction
{
    private readonly RouterEndpoints _endpoints;

    public PlacementFunction(RouterEndpoints endpoints)
    {
        _endpoints = endpoints;
    }

    [Function("ModelPlacement")]
    public Task<IActionResult> Placement(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/placement")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        _endpoints.PlacementAsync(request, model, null, cancellationToken);

    [Function("ModelVersionPlacement")]
    public Task<IActionResult> VersionPlacement(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/versions/{version}/placement")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        _endpoints.PlacementAsync(request, model, version, cancellationToken);
}
