using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Http;

namespace Serverless.Shard;

/// <summary>
/// v2 repository extension: load a model version into this shard's cache without running it (the
/// warm-up before an alias moves calls it on every replica), or drop it from the cache.
/// </summary>
public sealed class ModelRepositoryFunction
{
    private readonly ShardEndpoints _endpoints;

    public ModelRepositoryFunction(ShardEndpoints endpoints)
    {
        _endpoints = endpoints;
    }

    [Function("LoadModel")]
    public Task<IActionResult> Load(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v2/repository/models/{model}/versions/{version}/load")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        _endpoints.LoadAsync(request, model, version, cancellationToken);

    [Function("UnloadModel")]
    public Task<IActionResult> Unload(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v2/repository/models/{model}/versions/{version}/unload")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        _endpoints.UnloadAsync(request, model, version, cancellationToken);
}
