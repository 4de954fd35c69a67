using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;
using Serverless.Core.Http;
using Serverless.Core.Observability;
using Serverless.Core.Protocol;
using Serverless.Core.Routing;
using Serverless.Core.Scoring;
using Serverless.Core.Sharding;

namespace Serverless.Shard;

/// <summary>v2 inference on this shard, with and without a version.</summary>
public sealed class InferFunction
{
    private readonly ScoringService _scoring;
    private readonly ShardCallerAuthenticator _authenticator;
    private readonly string _shardId;
    private readonly ServerlessMetrics _metrics;

    public InferFunction(ScoringService scoring, ShardCallerAuthenticator authenticator, IOptions<ShardOptions> options, ServerlessMetrics metrics)
    {
        _metrics = metrics;
        _scoring = scoring;
        _authenticator = authenticator;
        _shardId = options.Value.Id;
    }

    [Function("Infer")]
    public Task<IActionResult> Infer(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v2/models/{model}/infer")] HttpRequest request, string model, CancellationToken cancellationToken) =>
        InferAsync(request, model, null, cancellationToken);

    [Function("InferVersion")]
    public Task<IActionResult> InferVersion(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v2/models/{model}/versions/{version}/infer")] HttpRequest request, string model, string version, CancellationToken cancellationToken) =>
        InferAsync(request, model, version, cancellationToken);

    private async Task<IActionResult> InferAsync(HttpRequest request, string model, string? version, CancellationToken cancellationToken)
    {
        if (await CallerTenant.ResolveAsync(_authenticator, request, cancellationToken).ConfigureAwait(false) is not { } tenant)
        {
            return new JsonBytesResult(401, JsonBodies.Error(ShardCallerAuthenticator.MissingMessage));
        }

        ReadOnlyMemory<byte> body;
        try
        {
            // The web host's own body limit (Kestrel: 30,000,000 bytes by default) becomes ours, so a body under
            // our limit is read whole and one over it gets our 413.
            if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } hostLimit)
            {
                hostLimit.MaxRequestBodySize = RequestBody.DefaultLimitBytes;
            }

            body = await RequestBody.ReadAsync(request.Body, request.ContentLength, RequestBody.DefaultLimitBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (ScoringException e)
        {
            return new JsonBytesResult(e.StatusCode, JsonBodies.Error(e.Message));
        }
        catch (BadHttpRequestException e)
        {
            // The web host's own body limit (Kestrel's MaxRequestBodySize) or a broken upload: the host's status (413, 400).
            return new JsonBytesResult(e.StatusCode, JsonBodies.Error($"request body could not be read: {e.Message}"));
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var activity = ServerlessTelemetry.StartShardInfer(request.Headers["traceparent"].ToString(), request.Headers["tracestate"].ToString(), tenant, model);
        // A numbered version from the router was resolved there a moment ago: a kept row of it (same hash) needs no read here.
        var routedSha256 = version is null ? null : _authenticator.RoutedModelSha256(request);
        var result = _metrics.Scored(tenant, model, await _scoring.InferAsync(tenant, model, version, body, routedSha256, cancellationToken).ConfigureAwait(false), started);
        return JsonBytesResult.From(result, _shardId);
    }
}
