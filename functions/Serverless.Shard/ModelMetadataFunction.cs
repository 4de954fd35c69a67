using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;
using Serverless.Core.Http;
using Serverless.Core.Protocol;
using Serverless.Core.Registry;
using Serverless.Core.Routing;
using Serverless.Core.Scoring;
using Serverless.Core.Sharding;

namespace Serverless.Shard;

/// <summary>v2 model metadata and readiness, with and without a version.</summary>
public sealed class ModelMetadataFunction
{
    private readonly ModelCatalog _catalog;
    private readonly OrtRuntime _runtime;
    private readonly ShardCallerAuthenticator _authenticator;
    private readonly string _shardId;

    public ModelMetadataFunction(ModelCatalog catalog, OrtRuntime runtime, ShardCallerAuthenticator authenticator, IOptions<ShardOptions> options)
    {
        _catalog = catalog;
        _runtime = runtime;
        _authenticator = authenticator;
        _shardId = options.Value.Id;
    }

    [Function("ModelMetadata")]
    public Task<IActionResult> Metadata(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        AnswerAsync(request, (tenant, ct) => _catalog.MetadataAsync(tenant, model, null, _runtime.ExecutionProvider, ct), cancellationToken);

    [Function("ModelVersionMetadata")]
    public Task<IActionResult> VersionMetadata(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/versions/{version}")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        AnswerAsync(request, (tenant, ct) => _catalog.MetadataAsync(tenant, model, version, _runtime.ExecutionProvider, ct), cancellationToken);

    [Function("ModelReady")]
    public Task<IActionResult> Ready(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/ready")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        AnswerAsync(request, (tenant, ct) => _catalog.ReadyAsync(tenant, model, null, ct), cancellationToken);

    [Function("ModelVersionReady")]
    public Task<IActionResult> VersionReady(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/versions/{version}/ready")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        AnswerAsync(request, (tenant, ct) => _catalog.ReadyAsync(tenant, model, version, ct), cancellationToken);

    private async Task<IActionResult> AnswerAsync(HttpRequest request, Func<string, CancellationToken, Task<Serverless.Core.Scoring.ScoringResult>> answer, CancellationToken cancellationToken)
    {
        if (await CallerTenant.ResolveAsync(_authenticator, request, cancellationToken).ConfigureAwait(false) is not { } tenant)
        {
            return new JsonBytesResult(401, JsonBodies.Error(ShardCallerAuthenticator.MissingMessage));
        }

        return JsonBytesResult.From(await answer(tenant, cancellationToken).ConfigureAwait(false), _shardId);
    }
}
