using System.Globalization;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Protocol;
using Serverless.Core.Registry;
using Serverless.Core.Serving;
using Serverless.Core.Sharding;

namespace Serverless.Routing;

/// <summary>
/// Sends one inference request to a model's replicas (docs/architecture.md, request path step 3): the first by
/// <see cref="ReplicaSelector"/>, the next when one cannot be reached, answers 503 or breaks off, within the
/// <see cref="RetryBudget"/> for retries that add load. The shard's answer comes back as a <see cref="ServingResult"/>
/// (its error as the error value again), a failure of every replica as <see cref="ServingErrorCode.Unavailable"/>.
/// As YARP's <c>HttpForwarder</c>, it sends through a message handler with no <c>HttpClient</c> around it.
/// </summary>
public sealed partial class ShardForwarder
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private static readonly int[] SingleReplicaOrder = [0];
    private readonly ReplicaSelector _selector;
    private readonly RetryBudget _retryBudget;
    // The named shard client's handler, called without an HttpClient around it (as YARP forwards): an HttpClient
    // per forward links two more cancellation sources per request for its own timeout and pending-request list,
    // and the router has its own deadline.
    private readonly HttpMessageInvoker _shards;
    private readonly RouterOptions _options;
    private readonly InternalKeyOptions _internalKey;
    private readonly ILogger<ShardForwarder> _logger;

    public ShardForwarder(IHttpMessageHandlerFactory handlerFactory, ReplicaSelector selector, RetryBudget retryBudget, IOptions<RouterOptions> options, IOptions<InternalKeyOptions> internalKey, ILogger<ShardForwarder> logger)
        : this((handlerFactory ?? throw new ArgumentNullException(nameof(handlerFactory))).CreateHandler(ShardClient.HttpClientName), selector, retryBudget, options, internalKey, logger)
    {
    }

    /// <summary>Over any handler (tests give a fake one, as YARP's forwarder tests do).</summary>
    public ShardForwarder(HttpMessageHandler handler, ReplicaSelector selector, RetryBudget retryBudget, IOptions<RouterOptions> options, IOptions<InternalKeyOptions> internalKey, ILogger<ShardForwarder> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(internalKey);
        _shards = new HttpMessageInvoker(handler, disposeHandler: false);
        _selector = selector;
        _retryBudget = retryBudget;
        _options = options.Value;
        _internalKey = internalKey.Value;
        _logger = logger;
    }

    /// <summary>
    /// Forwards <paramref name="body"/> to the version <paramref name="entry"/> names on one of <paramref name="replicas"/>
    /// (primary first); <paramref name="forwardTimeout"/> bounds each attempt when it is shorter than the caller's deadline.
    /// </summary>
    public Task<ServingResult> ForwardAsync(string tenant, string model, ModelVersionEntity entry, IReadOnlyList<ShardInfo> replicas, ReadOnlyMemory<byte> body, TimeSpan? forwardTimeout, CancellationToken cancellationToken) =>
        ForwardAsync(tenant, model, entry, replicas, body, forwardTimeout, deadlineAt: 0, cancellationToken);

    /// <summary>
    /// <see cref="ForwardAsync(string, string, ModelVersionEntity, IReadOnlyList{ShardInfo}, ReadOnlyMemory{byte}, TimeSpan?, CancellationToken)"/>,
    /// telling each shard the time left until <paramref name="deadlineAt"/> (a <see cref="Stopwatch"/> timestamp; 0 =
    /// none) in <see cref="ShardHeaders.Deadline"/>, so the shard stops the run when the router has given up even if the
    /// cancelled connection never reaches it (a front end between them).
    /// </summary>
    public async Task<ServingResult> ForwardAsync(string tenant, string model, ModelVersionEntity entry, IReadOnlyList<ShardInfo> replicas, ReadOnlyMemory<byte> body, TimeSpan? forwardTimeout, long deadlineAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(replicas);
        if (replicas.Count == 0)
        {
            return ServingResult.Failure(ServingError.Unavailable($"no shard of pool '{entry.Pool}' is available for model '{model}'"), entry.Version);
        }

        _retryBudget.Deposit();
        int[] order;
        if (replicas.Count == 1)
        {
            // One replica (the default R = 1): nothing to order, and nothing to allocate for it.
            order = SingleReplicaOrder;
        }
        else
        {
            var ids = new string[replicas.Count];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = replicas[i].Id;
            }

            order = _selector.Order(ids);
        }

        string? lastFailure = null;
        for (var attempt = 0; attempt < order.Length; attempt++)
        {
            var shard = replicas[order[attempt]];
            var (response, failure, reachedShard) = await SendAsync(shard, tenant, model, entry, body, forwardTimeout, deadlineAt, cancellationToken).ConfigureAwait(false);
            if (response is not null)
            {
                return response;
            }

            // A failure caused by the deadline itself is the deadline's answer (504), not the replica's.
            cancellationToken.ThrowIfCancellationRequested();
            lastFailure = failure;
            LogReplicaFailed(shard.Id, model, failure ?? "");
            if (!reachedShard)
            {
                // Nothing reached the shard, so trying the next replica adds no load anywhere: no budget
                // needed; and the shard goes last for a while so the next requests skip it.
                _selector.Eject(shard.Id);
            }
            else if (attempt + 1 < order.Length && !_retryBudget.TryWithdraw())
            {
                return ServingResult.Failure(ServingError.Unavailable($"replica {shard.Id} of model '{model}' failed ({failure}) and the retry budget is spent"), entry.Version);
            }
        }

        return ServingResult.Failure(ServingError.Unavailable($"no replica of model '{model}' answered ({order.Length} tried; last: {lastFailure})"), entry.Version);
    }

    private async Task<(ServingResult? Response, string? Failure, bool ReachedShard)> SendAsync(ShardInfo shard, string tenant, string model, ModelVersionEntity entry, ReadOnlyMemory<byte> body, TimeSpan? forwardTimeout, long deadlineAt, CancellationToken cancellationToken)
    {
        var version = entry.Version;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(shard.BaseUrl, $"v2/models/{model}/versions/{version}/infer"));
        request.Headers.TryAddWithoutValidation(ShardHeaders.Tenant, tenant);
        if (_internalKey.IsConfigured)
        {
            request.Headers.TryAddWithoutValidation(ShardHeaders.InternalKey, _internalKey.ShardKey);
            request.Headers.TryAddWithoutValidation(ShardHeaders.ModelSha256, entry.Sha256);
        }

        if (deadlineAt != 0)
        {
            var leftMs = Math.Max(1L, (long)((deadlineAt - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency));
            request.Headers.TryAddWithoutValidation(ShardHeaders.Deadline, leftMs.ToString(CultureInfo.InvariantCulture));
        }

        request.Content = new ReadOnlyMemoryContent(body);
        request.Content.Headers.ContentType = JsonContentType;
        using var timeout = forwardTimeout.HasValue ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : null;
        timeout?.CancelAfter(forwardTimeout.GetValueOrDefault());
        var token = timeout?.Token ?? cancellationToken;
        using var outstanding = _selector.Track(shard.Id);
        using var activity = Serverless.Core.Observability.ServerlessTelemetry.StartForward(shard.Id, tenant, model);
        try
        {
            using var response = await _shards.SendAsync(request, token).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                // The shard's reason travels on (e.g. storage away, memory pressure, bytes that do not match their
                // published hash): when every replica refuses, the caller learns why, not only that they did.
                var reason = JsonBodies.ReadError(await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false));
                return (null, $"{shard.Id} answered 503: {reason}", true);
            }

            var bytes = await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
            var servedVersion = Header(response, ShardHeaders.ModelVersion) ?? version;
            var status = (int)response.StatusCode;
            // The shard's error answer becomes the error value again (its code from the status, its message from the
            // body), so this edge and any other (gRPC) write it in their own form.
            var succeeded = status is >= 200 and < 300;
            return (new ServingResult(
                succeeded ? bytes : [],
                succeeded ? null : new ServingError(HttpStatusMapping.FromStatus(status), JsonBodies.ReadError(bytes), response.Headers.RetryAfter?.Delta),
                servedVersion)
            {
                ServedBy = Header(response, ShardHeaders.ServedBy) ?? shard.Id,
                CacheHit = Header(response, ShardHeaders.Cache) switch { "hit" => true, "miss" => false, _ => null },
                LoadSource = Header(response, ShardHeaders.LoadSource),
            }, null, true);
        }
        catch (HttpRequestException e)
        {
            // A connection that could not be made means the request never reached the shard.
            var reached = e.HttpRequestError is not (HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError);
            return (null, $"{shard.Id}: {e.Message}", reached);
        }
        catch (IOException e)
        {
            // The answer's body broke off (the shard died while writing it): read straight from the handler, this
            // is an IOException, where an HttpClient buffering the answer would have wrapped it.
            return (null, $"{shard.Id}: {e.Message}", true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"{shard.Id} did not answer within {_options.ForwardTimeoutSeconds} s", true);
        }
    }

    // NonValidated: the shard's own headers, read without parsing them into a list (or LINQ) per request.
    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.NonValidated.TryGetValues(name, out var values) && values.Count > 0 ? First(values) : null;

    private static string? First(HeaderStringValues values)
    {
        foreach (var value in values)
        {
            return value;
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ShardId} failed for model {Model}: {Failure}; trying the next")]
    private partial void LogReplicaFailed(string shardId, string model, string failure);
}
