using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Http;

namespace Serverless.Router;

/// <summary>v2 inference: authenticate, then forward to a replica of the model.</summary>
public sealed class InferFunction
{
    private readonly RouterEndpoints _endpoints;

    public InferFunction(RouterEndpoints endpoints)
    {
        _endpoints = endpoints;
    }

    [Function("Infer")]
    public Task<IActionResult> Infer(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v2/models/{model}/infer")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        _endpoints.InferAsync(request, model, null, cancellationToken);

    [Function("InferVersion")]
    public Task<IActionResult> InferVersion(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v2/models/{model}/versions/{version}/infer")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        _endpoints.InferAsync(request, model, version, cancellationToken);
}
