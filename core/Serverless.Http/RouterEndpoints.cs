using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Serverless.Core.Observability;
using Serverless.Core.Protocol;
using Serverless.Routing;
using Serverless.Core.Serving;
using Serverless.Core.Storage;
using Serverless.Core.Tenancy;

namespace Serverless.Http;

/// <summary>
/// The router's v2 API over HTTP: read the call (<see cref="HttpCallReader"/>), call <see cref="RouterService"/>,
/// answer (<see cref="JsonBytesResult.From(ServingResult, string?)"/>). Whatever a step throws is answered here, in
/// one catch, as the error model says (docs/architecture.md, request path steps 1-3), so every endpoint answers a
/// storage outage with 503 and Retry-After like the others. The function classes only bind routes to these.
/// </summary>
public sealed class RouterEndpoints
{
    private static readonly byte[] Live = JsonBodies.Health(new HealthResponse(Live: true));
    private static readonly byte[] Ready = JsonBodies.Health(new HealthResponse(Ready: true));
    private readonly RouterService _router;
    private readonly ServerlessMetrics _metrics;
    private readonly StorageOutageBreaker _storage;
    private readonly TimeProvider _time;

    public RouterEndpoints(RouterService router, ServerlessMetrics metrics, StorageClients storage, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(storage);
        _router = router;
        _metrics = metrics;
        _storage = storage.OutageBreaker;
        _time = time;
    }

    /// <summary><c>GET /v2/health/live</c>: the process answers.</summary>
    public static IActionResult ServerLive() => new JsonBytesResult(200, Live);

    /// <summary><c>GET /v2/health/ready</c>: 503 with Retry-After while storage is failing (only what was read before can be served).</summary>
    public IActionResult ServerReady() =>
        _storage.IsOpen(_time.GetUtcNow())
            ? new JsonBytesResult(503, JsonBodies.Health(new HealthResponse(Ready: false, Detail: "storage is unreachable: serving only tenants and models read before")), retryAfterSeconds: (int)ServingError.DefaultRetryAfter.TotalSeconds)
            : new JsonBytesResult(200, Ready);

    /// <summary>Step 1-3 of an inference call: authenticate, read the deadline and the body, forward (RouterService).</summary>
    public async Task<IActionResult> InferAsync(HttpRequest request, string model, string? version, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (await _router.AuthenticateAsync(HttpCallReader.ApiKey(request), cancellationToken).ConfigureAwait(false) is not { } tenant)
            {
                return JsonBytesResult.From(RouterService.Unauthenticated);
            }

            if (!RouterService.TryParseRequestTimeout(request.Headers[ShardHeaders.RequestTimeout].ToString(), _router.RequestTimeout, out var timeout, out var timeoutError))
            {
                return JsonBytesResult.From(ServingError.InvalidArgument(timeoutError!));
            }

            // The body is held until the forward is done: counted in the router's in-flight budget for that long.
            using var bodyMemory = _router.BodyBudget.Open();
            var body = await HttpCallReader.ReadBodyAsync(request, _router.MaxBodyBytes, bodyMemory, cancellationToken).ConfigureAwait(false);
            var result = await _router.InferAsync(tenant, model, version, body, timeout, cancellationToken).ConfigureAwait(false);
            return JsonBytesResult.From(_metrics.Routed(tenant.Name, model, result, started));
        }
        catch (Exception e) when (ServingErrors.From(e, cancellationToken) is { } error)
        {
            return JsonBytesResult.From(error);
        }
    }

    public Task<IActionResult> MetadataAsync(HttpRequest request, string model, string? version, CancellationToken cancellationToken) =>
        AnswerAsync(request, model, version, Call.Metadata, cancellationToken);

    public Task<IActionResult> ModelReadyAsync(HttpRequest request, string model, string? version, CancellationToken cancellationToken) =>
        AnswerAsync(request, model, version, Call.Ready, cancellationToken);

    /// <summary>Direct mode: the model's replicas.</summary>
    public Task<IActionResult> PlacementAsync(HttpRequest request, string model, string? version, CancellationToken cancellationToken) =>
        AnswerAsync(request, model, version, Call.Placement, cancellationToken);

    private async Task<IActionResult> AnswerAsync(HttpRequest request, string model, string? version, Call call, CancellationToken cancellationToken)
    {
        try
        {
            if (await _router.AuthenticateAsync(HttpCallReader.ApiKey(request), cancellationToken).ConfigureAwait(false) is not { } tenant)
            {
                return JsonBytesResult.From(RouterService.Unauthenticated);
            }

            return JsonBytesResult.From(await CallAsync(tenant, model, version, call, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception e) when (ServingErrors.From(e, cancellationToken) is { } error)
        {
            return JsonBytesResult.From(error);
        }
    }

    private Task<ServingResult> CallAsync(Tenant tenant, string model, string? version, Call call, CancellationToken cancellationToken) => call switch
    {
        Call.Metadata => _router.MetadataAsync(tenant, model, version, cancellationToken),
        Call.Ready => _router.ReadyAsync(tenant, model, version, cancellationToken),
        _ => _router.PlacementAsync(tenant, model, version, cancellationToken),
    };

    private enum Call
    {
        Metadata,
        Ready,
        Placement,
    }
}
