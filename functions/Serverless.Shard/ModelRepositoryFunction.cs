using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;
using Serverless.Core.Http;
using Serverless.Core.Protocol;
using Serverless.Core.Routing;
using Serverless.Core.Scoring;
using Serverless.Core.Sharding;

namespace Serverless.Shard;

/// <summary>
/// v2 repository extension: load a model version into this shard's cache without running it (the
/// warm-up before an alias moves calls it on every replica), or drop it from the cache.
/// </summary>
public sealed class ModelRepositoryFunction
{
    private readonly ScoringService _scoring;
    private readonly ShardCallerAuthenticator _authenticator;
    private readonly string _shardId;

    public ModelRepositoryFunction(ScoringService scoring, ShardCallerAuthenticator authenticator, IOptions<ShardOptions> options)
    {
        _scoring = scoring;
        _authenticator = authenticator;
        _shardId = options.Value.Id;
    }

    [Function("LoadModel")]
    public async Task<IActionResult> Load(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v2/repository/models/{model}/versions/{version}/load")] HttpRequest request, string model, string version, CancellationToken cancellationToken)
    {
        if (await CallerTenant.ResolveAsync(_authenticator, request, cancellationToken).ConfigureAwait(false) is not { } tenant)
        {
            return new JsonBytesResult(401, JsonBodies.Error(ShardCallerAuthenticator.MissingMessage));
        }

        return JsonBytesResult.From(await _scoring.LoadAsync(tenant, model, version, cancellationToken).ConfigureAwait(false), _shardId);
    }

    [Function("UnloadModel")]
    public async Task<IActionResult> Unload(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v2/repository/models/{model}/versions/{version}/unload")] HttpRequest request, string model, string version, CancellationToken cancellationToken)
    {
        if (await CallerTenant.ResolveAsync(_authenticator, request, cancellationToken).ConfigureAwait(false) is not { } tenant)
        {
            return new JsonBytesResult(401, JsonBodies.Error(ShardCallerAuthenticator.MissingMessage));
        }

        return JsonBytesResult.From(await _scoring.UnloadAsync(tenant, model, version, cancellationToken).ConfigureAwait(false), _shardId);
    }
}
