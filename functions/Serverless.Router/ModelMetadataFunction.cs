using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Core.Http;
using Serverless.Core.Routing;
using Serverless.Core.Tenancy;

namespace Serverless.Router;

/// <summary>v2 model metadata and readiness, answered by the router from the registry.</summary>
public sealed class ModelMetadataFunction
{
    private readonly RouterService _router;

    public ModelMetadataFunction(RouterService router)
    {
        _router = router;
    }

    [Function("ModelMetadata")]
    public Task<IActionResult> Metadata(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        AnswerAsync(request, (tenant, ct) => _router.MetadataAsync(tenant, model, null, ct), cancellationToken);

    [Function("ModelVersionMetadata")]
    public Task<IActionResult> VersionMetadata(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/versions/{version}")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        AnswerAsync(request, (tenant, ct) => _router.MetadataAsync(tenant, model, version, ct), cancellationToken);

    [Function("ModelReady")]
    public Task<IActionResult> Ready(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/ready")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        AnswerAsync(request, (tenant, ct) => _router.ReadyAsync(tenant, model, null, ct), cancellationToken);

    [Function("ModelVersionReady")]
    public Task<IActionResult> VersionReady(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/models/{model}/versions/{version}/ready")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        AnswerAsync(request, (tenant, ct) => _router.ReadyAsync(tenant, model, version, ct), cancellationToken);

    private async Task<IActionResult> AnswerAsync(HttpRequest request, Func<Tenant, CancellationToken, Task<RoutedResponse>> answer, CancellationToken cancellationToken)
    {
        var tenant = await _router.AuthenticateAsync(TenantAuthentication.ApiKey(request), cancellationToken).ConfigureAwait(false);
        return JsonBytesResult.From(tenant is null ? RouterService.Unauthorized() : await answer(tenant, cancellationToken).ConfigureAwait(false));
    }
}
