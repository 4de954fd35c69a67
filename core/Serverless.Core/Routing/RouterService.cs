using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Placement;
using Serverless.Core.Protocol;
using Serverless.Core.Registry;
using Serverless.Core.Scoring;
using Serverless.Core.Sharding;
using Serverless.Core.Tenancy;

namespace Serverless.Core.Routing;

/// <summary>
/// The public v2 API: authenticates the tenant, resolves the version, finds the model's replicas
/// (rendezvous hashing inside the tenant's shuffle shard, placement rows overriding) and forwards the
/// request body as bytes to one, trying the next when one cannot be reached or answers 503.
/// </summary>
public sealed partial class RouterService
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private static readonly int[] SingleReplicaOrder = [0];
    private readonly VerifiedApiKeys _verifiedKeys;
    private readonly ModelCatalog _catalog;
    private readonly ReplicaResolver _replicas;
    private readonly ReplicaSelector _selector;
    private readonly RetryBudget _retryBudget;
    private readonly TenantRateLimiter _rateLimiter;
    // The named shard client's handler, called without an HttpClient around it (as YARP forwards): an HttpClient
    // per forward links two more cancellation sources per request for its own timeout and pending-request list,
    // and the router has its own deadline.
    private readonly HttpMessageInvoker _shards;
    private readonly RouterOptions _options;
    private readonly InternalKeyOptions _internalKey;
    private readonly ILogger<RouterService> _logger;

    public RouterService(TenantStore tenants, ModelCatalog catalog, ReplicaResolver replicas, ReplicaSelector selector, RetryBudget retryBudget, TenantRateLimiter rateLimiter, IHttpMessageHandlerFactory handlerFactory, IOptions<RouterOptions> options, IOptions<InternalKeyOptions> internalKey, TimeProvider time, ILogger<RouterService> logger)
    {
        _internalKey = internalKey.Value;
        _verifiedKeys = new VerifiedApiKeys(tenants, time);
        _catalog = catalog;
        _replicas = replicas;
        _selector = selector;
        _retryBudget = retryBudget;
        _rateLimiter = rateLimiter;
        ArgumentNullException.ThrowIfNull(handlerFactory);
        _shards = new HttpMessageInvoker(handlerFactory.CreateHandler(ShardClient.HttpClientName), disposeHandler: false);
        _options = options.Value;
        _logger = logger;
    }

    public long MaxBodyBytes => _options.MaxBodyBytes;

    /// <summary>The tenant of an API key, or null (the caller answers 401). A key verified in the last 2 s is not hashed again.</summary>
    public ValueTask<Tenant?> AuthenticateAsync(string? apiKey, CancellationToken cancellationToken) =>
        _verifiedKeys.AuthenticateAsync(apiKey, cancellationToken);

    public static RoutedResponse Unauthorized() =>
        new(401, JsonBodies.Error("missing or invalid API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'"));

    public async Task<RoutedResponse> MetadataAsync(Tenant tenant, string model, string? version, CancellationToken cancellationToken) =>
        ToRouted(await _catalog.MetadataAsync(tenant.Name, model, version, cancellationToken).ConfigureAwait(false));

    public async Task<RoutedResponse> ReadyAsync(Tenant tenant, string model, string? version, CancellationToken cancellationToken) =>
        ToRouted(await _catalog.ReadyAsync(tenant.Name, model, version, cancellationToken).ConfigureAwait(false));

    /// <summary>Direct mode: the replicas of a model version, so a client can call one itself.</summary>
    public async Task<RoutedResponse> PlacementAsync(Tenant tenant, string model, string? version, CancellationToken cancellationToken)
    {
        try
        {
            var entry = await _catalog.ResolveAsync(tenant.Name, model, version, cancellationToken).ConfigureAwait(false);
            var (replicas, reason) = await _replicas.ExplainAsync(tenant.Name, tenant.ShuffleShardSize, entry.Model, entry.Pool, cancellationToken).ConfigureAwait(false);
            var list = new PlacementReplica[replicas.Count];
            for (var i = 0; i < list.Length; i++)
            {
                list[i] = new PlacementReplica(replicas[i].Id, replicas[i].BaseUrl.ToString().TrimEnd('/'));
            }

            return new RoutedResponse(200, JsonBodies.Placement(new PlacementResponse(model, entry.Version, entry.Pool, list, reason)), entry.Version);
        }
        catch (ScoringException e)
        {
            return new RoutedResponse(e.StatusCode, JsonBodies.Error(e.Message), version);
        }
    }

    /// <summary>The router's deadline for one inference request (<see cref="RouterOptions.RequestTimeoutSeconds"/>).</summary>
    public TimeSpan RequestTimeout => TimeSpan.FromSeconds(_options.RequestTimeoutSeconds);

    /// <summary>
    /// Reads the optional <c>x-request-timeout-ms</c> header: null when absent; a deadline clamped to
    /// [1 ms, <paramref name="maximum"/>] when it is an integer; false (with the message for a 400) otherwise.
    /// A client can only lower the router's deadline, never raise it.
    /// </summary>
    public static bool TryParseRequestTimeout(string? header, TimeSpan maximum, out TimeSpan? timeout, out string? error)
    {
        timeout = null;
        error = null;
        if (string.IsNullOrWhiteSpace(header))
        {
            return true;
        }

        if (!long.TryParse(header.Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var milliseconds))
        {
            error = $"header '{ShardHeaders.RequestTimeout}' must be a whole number of milliseconds (the request deadline); got '{(header.Length > 40 ? header[..40] + "…" : header)}'";
            return false;
        }

        timeout = TimeSpan.FromMilliseconds(Math.Clamp(milliseconds, 1, (long)maximum.TotalMilliseconds));
        return true;
    }

    /// <summary>The 504 answer of a request whose deadline passed before a replica answered.</summary>
    public static RoutedResponse DeadlineExceeded(TimeSpan deadline, string model, string? version) =>
        new(504, JsonBodies.Error($"request deadline of {(long)deadline.TotalMilliseconds} ms exceeded before model '{model}' answered (the router's Router__RequestTimeoutSeconds, or lower with header '{ShardHeaders.RequestTimeout}')"), version);

    /// <summary>Forwards an inference request to one of the model's replicas, within the router's deadline.</summary>
    public Task<RoutedResponse> InferAsync(Tenant tenant, string model, string? version, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        InferAsync(tenant, model, version, body, null, cancellationToken);

    /// <summary>
    /// Forwards an inference request to one of the model's replicas. The deadline (the router's, or
    /// <paramref name="requestedTimeout"/> when lower) covers resolving, forwarding and every retry; past it
    /// the answer is 504.
    /// </summary>
    public async Task<RoutedResponse> InferAsync(Tenant tenant, string model, string? version, ReadOnlyMemory<byte> body, TimeSpan? requestedTimeout, CancellationToken cancellationToken)
    {
        var deadline = requestedTimeout is { } requested && requested < RequestTimeout ? requested : RequestTimeout;
        using var deadlineSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadlineSource.CancelAfter(deadline);
        try
        {
            // A forward timeout no shorter than the deadline can never fire first: then no timer per attempt.
            var forwardTimeout = TimeSpan.FromSeconds(_options.ForwardTimeoutSeconds);
            return await InferWithinAsync(tenant, model, version, body, forwardTimeout < deadline ? forwardTimeout : null, deadlineSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadlineSource.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            LogDeadlineExceeded(model, (long)deadline.TotalMilliseconds);
            return DeadlineExceeded(deadline, model, version);
        }
    }

    private async Task<RoutedResponse> InferWithinAsync(Tenant tenant, string model, string? version, ReadOnlyMemory<byte> body, TimeSpan? forwardTimeout, CancellationToken cancellationToken)
    {
        if (_rateLimiter.TryAcquire(tenant) is { } retryAfter)
        {
            return new RoutedResponse(429, JsonBodies.Error($"tenant '{tenant.Name}' is over its request quota; retry after {retryAfter} s"), RetryAfterSeconds: retryAfter);
        }

        ModelVersionEntity entry;
        try
        {
            var resolving = _catalog.ResolveAsync(tenant.Name, model, version, cancellationToken);
            if (!resolving.IsCompleted)
            {
                // The registry is being read from storage (a model's first request, or one idle a while):
                // read its placement row at the same time rather than after.
                _replicas.Prefetch(tenant.Name, model);
            }

            entry = await resolving.ConfigureAwait(false);
        }
        catch (ScoringException e)
        {
            return new RoutedResponse(e.StatusCode, JsonBodies.Error(e.Message), version);
        }

        var replicas = await FindReplicasAsync(tenant, entry, cancellationToken).ConfigureAwait(false);
        if (replicas.Count == 0)
        {
            return new RoutedResponse(503, JsonBodies.Error($"no shard of pool '{entry.Pool}' is available for model '{model}'"), entry.Version, RetryAfterSeconds: 1);
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
            var (response, failure, reachedShard) = await ForwardAsync(shard, tenant.Name, model, entry, body, forwardTimeout, cancellationToken).ConfigureAwait(false);
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
                return new RoutedResponse(503, JsonBodies.Error($"replica {shard.Id} of model '{model}' failed ({failure}) and the retry budget is spent"), entry.Version, RetryAfterSeconds: 1);
            }
        }

        return new RoutedResponse(503, JsonBodies.Error($"no replica of model '{model}' answered ({order.Length} tried; last: {lastFailure})"), entry.Version, RetryAfterSeconds: 1);
    }

    /// <summary>The model's replicas in preference order (primary first), live shards only.</summary>
    public ValueTask<IReadOnlyList<ShardInfo>> FindReplicasAsync(Tenant tenant, ModelVersionEntity entry, CancellationToken cancellationToken) =>
        _replicas.ResolveAsync(tenant.Name, tenant.ShuffleShardSize, entry.Model, entry.Pool, cancellationToken);

    private async Task<(RoutedResponse? Response, string? Failure, bool ReachedShard)> ForwardAsync(ShardInfo shard, string tenant, string model, ModelVersionEntity entry, ReadOnlyMemory<byte> body, TimeSpan? forwardTimeout, CancellationToken cancellationToken)
    {
        var version = entry.Version;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(shard.BaseUrl, $"v2/models/{model}/versions/{version}/infer"));
        request.Headers.TryAddWithoutValidation(ShardHeaders.Tenant, tenant);
        if (_internalKey.IsConfigured)
        {
            request.Headers.TryAddWithoutValidation(ShardHeaders.InternalKey, _internalKey.ShardKey);
            request.Headers.TryAddWithoutValidation(ShardHeaders.ModelSha256, entry.Sha256);
        }

        request.Content = new ReadOnlyMemoryContent(body);
        request.Content.Headers.ContentType = JsonContentType;
        using var timeout = forwardTimeout.HasValue ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : null;
        timeout?.CancelAfter(forwardTimeout.GetValueOrDefault());
        var token = timeout?.Token ?? cancellationToken;
        using var outstanding = _selector.Track(shard.Id);
        using var activity = Observability.ServerlessTelemetry.StartForward(shard.Id, tenant, model);
        try
        {
            using var response = await _shards.SendAsync(request, token).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                return (null, $"{shard.Id} answered 503", true);
            }

            var bytes = await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
            return (new RoutedResponse(
                (int)response.StatusCode,
                bytes,
                Header(response, ShardHeaders.ModelVersion) ?? version,
                Header(response, ShardHeaders.ServedBy) ?? shard.Id,
                Header(response, ShardHeaders.Cache),
                response.Headers.RetryAfter?.Delta is { } retryAfter ? (int)Math.Ceiling(retryAfter.TotalSeconds) : null) { LoadSource = Header(response, ShardHeaders.LoadSource) }, null, true);
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

    private static RoutedResponse ToRouted(ScoringResult result) => new(result.StatusCode, result.Body, result.ModelVersion);

    [LoggerMessage(Level = LogLevel.Information, Message = "Request for model {Model} passed its deadline of {DeadlineMs} ms; answered 504")]
    private partial void LogDeadlineExceeded(string model, long deadlineMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ShardId} failed for model {Model}: {Failure}; trying the next")]
    private partial void LogReplicaFailed(string shardId, string model, string failure);
}
