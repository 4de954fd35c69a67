using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Serverless.Core.Observability;
using Serverless.Core.Protocol;
using Serverless.Core.Registry;
using Serverless.Routing;
using Serverless.Scoring;
using Serverless.Core.Serving;
using Serverless.Core.Sharding;
using Serverless.Core.Storage;

namespace Serverless.Http;

/// <summary>
/// A shard's v2 API over HTTP (the GPU app's too): who is calling (<see cref="ShardCallerAuthenticator"/>), read the
/// call, call <see cref="ScoringService"/> or <see cref="ModelCatalog"/>, answer. One catch per endpoint turns what a
/// step throws into the error model's answer (docs/architecture.md, request path steps 4-7).
/// </summary>
public sealed class ShardEndpoints
{
    private static readonly byte[] Live = JsonBodies.Health(new HealthResponse(Live: true));
    private static readonly ServingError Unauthenticated = ServingError.Unauthenticated(ShardCallerAuthenticator.MissingMessage);
    private readonly ScoringService _scoring;
    private readonly ModelCatalog _catalog;
    private readonly OrtRuntime _runtime;
    private readonly ShardCallerAuthenticator _authenticator;
    private readonly DirectCallGate _directCalls;
    private readonly ServerlessMetrics _metrics;
    private readonly ShardReadiness _readiness;
    private readonly StorageOutageBreaker _storage;
    private readonly TimeProvider _time;
    private readonly string _shardId;

    public ShardEndpoints(ScoringService scoring, ModelCatalog catalog, OrtRuntime runtime, ShardCallerAuthenticator authenticator, DirectCallGate directCalls, ServerlessMetrics metrics, ShardReadiness readiness, StorageClients storage, TimeProvider time, IOptions<ShardOptions> options)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(options);
        _scoring = scoring;
        _catalog = catalog;
        _runtime = runtime;
        _authenticator = authenticator;
        _directCalls = directCalls;
        _metrics = metrics;
        _readiness = readiness;
        _storage = storage.OutageBreaker;
        _time = time;
        _shardId = options.Value.Id;
    }

    /// <summary><c>GET /v2/health/live</c>: the process answers.</summary>
    public static IActionResult ServerLive() => new JsonBytesResult(200, Live);

    /// <summary><c>GET /v2/health/ready</c>: ready once prewarmed, and not while storage is failing; 503 with Retry-After otherwise.</summary>
    public IActionResult ServerReady()
    {
        var storageAway = _storage.IsOpen(_time.GetUtcNow());
        var ready = _readiness.IsReady && !storageAway;
        var detail = storageAway ? "storage is unreachable: serving only models resident or read before" : _readiness.Detail;
        var body = JsonBodies.Health(new HealthResponse(Ready: ready, Detail: detail, ExecutionProvider: _runtime.ExecutionProvider));
        return ready ? new JsonBytesResult(200, body) : new JsonBytesResult(503, body, retryAfterSeconds: (int)ServingError.DefaultRetryAfter.TotalSeconds);
    }

    /// <summary>Steps 4-7 of an inference call: who calls, the body, then ScoringService.</summary>
    public async Task<IActionResult> InferAsync(HttpRequest request, string model, string? version, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            if (await HttpCallReader.ShardCallerAsync(_authenticator, request, cancellationToken).ConfigureAwait(false) is not { } caller)
            {
                return JsonBytesResult.From(Unauthenticated);
            }

            if (caller.Direct is { } direct && await _directCalls.CheckAsync(direct, model, version, cancellationToken).ConfigureAwait(false) is { } refused)
            {
                return JsonBytesResult.From(refused);
            }

            var tenant = caller.TenantName;
            // The request's memory is counted before its body is read (the declared length) and before each tensor
            // is decoded: a shard full of requests in flight refuses the next (503) before buffering it.
            using var memory = _scoring.OpenRequestMemory(request.ContentLength ?? 0);
            var body = await HttpCallReader.ReadBodyAsync(request, RequestBody.DefaultLimitBytes, cancellationToken).ConfigureAwait(false);
            if (request.ContentLength is null)
            {
                memory.TakeBody(body.Length);
            }

            // The router's time left (or a direct caller's own timeout): past it the run is stopped, as on an abort.
            var timeLeft = HttpCallReader.ShardDeadline(request);
            using var deadline = timeLeft.HasValue ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : null;
            deadline?.CancelAfter(timeLeft.GetValueOrDefault());
            var runToken = deadline?.Token ?? cancellationToken;
            var started = Stopwatch.GetTimestamp();
            using var activity = ServerlessTelemetry.StartShardInfer(request.Headers["traceparent"].ToString(), request.Headers["tracestate"].ToString(), tenant, model);
            // A numbered version from the router was resolved there a moment ago: a kept row of it (same hash) needs no read here.
            var routedSha256 = version is null ? null : HttpCallReader.RoutedModelSha256(_authenticator, request);
            var result = await _scoring.InferAsync(tenant, model, version, body, routedSha256, memory, runToken).ConfigureAwait(false);
            return JsonBytesResult.From(_metrics.Scored(tenant, model, result, started), _shardId);
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

    /// <summary>Repository extension: load a version into this shard's cache without running it.</summary>
    public Task<IActionResult> LoadAsync(HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        AnswerAsync(request, model, version, Call.Load, cancellationToken);

    /// <summary>Repository extension: drop a version from this shard's cache.</summary>
    public Task<IActionResult> UnloadAsync(HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        AnswerAsync(request, model, version, Call.Unload, cancellationToken);

    private async Task<IActionResult> AnswerAsync(HttpRequest request, string model, string? version, Call call, CancellationToken cancellationToken)
    {
        try
        {
            if (await HttpCallReader.ShardCallerAsync(_authenticator, request, cancellationToken).ConfigureAwait(false) is not { } caller)
            {
                return JsonBytesResult.From(Unauthenticated);
            }

            if (caller.Direct is { } direct && await _directCalls.CheckAsync(direct, model, version, cancellationToken).ConfigureAwait(false) is { } refused)
            {
                return JsonBytesResult.From(refused);
            }

            return JsonBytesResult.From(await CallAsync(caller.TenantName, model, version, call, cancellationToken).ConfigureAwait(false), _shardId);
        }
        catch (Exception e) when (ServingErrors.From(e, cancellationToken) is { } error)
        {
            return JsonBytesResult.From(error);
        }
    }

    private Task<ServingResult> CallAsync(string tenant, string model, string? version, Call call, CancellationToken cancellationToken) => call switch
    {
        Call.Metadata => _catalog.MetadataAsync(tenant, model, version, _runtime.ExecutionProvider, cancellationToken),
        Call.Ready => _catalog.ReadyAsync(tenant, model, version, cancellationToken),
        Call.Load => _scoring.LoadAsync(tenant, model, version, cancellationToken),
        _ => _scoring.UnloadAsync(tenant, model, version!, cancellationToken),
    };

    private enum Call
    {
        Metadata,
        Ready,
        Load,
        Unload,
    }
}
