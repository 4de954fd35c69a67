using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Http;

namespace Serverless.Shard;

/// <summary>v2 model metadata and readiness, with and without a version.</summary>
public sealed class ModelMetadataFunction
{
    private readonly ShardEndpoints _endpoints;

    public ModelMetadataFunction(ShardEndpoints endpoints)
    {
        _endpoints = endpoints;
    }

    [Function("ModelMetadata")]
    public Task<IActionResult> Metadata(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        _endpoints.MetadataAsync(request, model, null, cancellationToken);

    [Function("ModelVersionMetadata")]
    public Task<IActionResult> VersionMetadata(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/versions/{version}")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        _endpoints.MetadataAsync(request, model, version, cancellationToken);

    [Function("ModelReady")]
    public Task<IActionResult> Ready(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/ready")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        _endpoints.ModelReadyAsync(request, model, null, cancellationToken);

    [Function("ModelVersionReady")]
    public Task<IActionResult> VersionReady(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/versions/{version}/ready")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        _endpoints.ModelReadyAsync(request, model, version, cancellationToken);
}
