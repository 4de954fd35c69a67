using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Placement;
using Serverless.Core.Protocol;
using Serverless.Core.Registry;
using Serverless.Core.Serving;
using Serverless.Core.Sharding;
using Serverless.Core.Tenancy;

namespace Serverless.Routing;

/// <summary>
/// The public v2 API: authenticates the tenant, resolves the version, finds the model's replicas
/// (rendezvous hashing inside the tenant's shuffle shard, placement rows overriding) and forwards the
/// request body as bytes to one, trying the next when one cannot be reached or answers 503.
/// </summary>
public sealed partial class RouterService
{
    private readonly VerifiedApiKeys _verifiedKeys;
    private readonly ModelCatalog _catalog;
    private readonly ReplicaResolver _replicas;
    private readonly ShardForwarder _forwarder;
    private readonly TenantRateLimiter _rateLimiter;
    private readonly RouterOptions _options;
    private readonly ILogger<RouterService> _logger;

    public RouterService(TenantStore tenants, ModelCatalog catalog, ReplicaResolver replicas, ShardForwarder forwarder, TenantRateLimiter rateLimiter, IOptions<RouterOptions> options, TimeProvider time, ILogger<RouterService> logger)
    {
        _verifiedKeys = new VerifiedApiKeys(tenants, time);
        _catalog = catalog;
        _replicas = replicas;
        _forwarder = forwarder;
        _rateLimiter = rateLimiter;
        _options = options.Value;
        BodyBudget = new BodyMemoryBudget(Math.Max(_options.InFlightBodyBytes, _options.MaxBodyBytes), "Router__InFlightBodyBytes");
        _logger = logger;
    }

    public long MaxBodyBytes => _options.MaxBodyBytes;

    /// <summary>What the bodies being read and forwarded may hold together (<see cref="RouterOptions.InFlightBodyBytes"/>).</summary>
    public BodyMemoryBudget BodyBudget { get; }

    /// <summary>The tenant of an API key, or null (the caller answers 401). A key verified in the last 2 s is not hashed again.</summary>
    public ValueTask<Tenant?> AuthenticateAsync(string? apiKey, CancellationToken cancellationToken) =>
        _verifiedKeys.AuthenticateAsync(apiKey, cancellationToken);

    /// <summary>The answer to a call without a valid API key.</summary>
    public static readonly ServingError Unauthenticated = ServingError.Unauthenticated("missing or invalid API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'");

    /// <summary>The v2 metadata; spends the tenant's quota as an inference call does (each may read storage).</summary>
    public Task<ServingResult> MetadataAsync(Tenant tenant, string model, string? version, CancellationToken cancellationToken) =>
        OverQuota(tenant) is { } refused ? Task.FromResult(refused) : _catalog.MetadataAsync(tenant.Name, model, version, cancellationToken);

    /// <summary>Whether a model version is ready; spends the tenant's quota as an inference call does.</summary>
    public Task<ServingResult> ReadyAsync(Tenant tenant, string model, string? version, CancellationToken cancellationToken) =>
        OverQuota(tenant) is { } refused ? Task.FromResult(refused) : _catalog.ReadyAsync(tenant.Name, model, version, cancellationToken);

    /// <summary>Direct mode: the replicas of a model version, so a client can call one itself; spends the tenant's quota.</summary>
    public async Task<ServingResult> PlacementAsync(Tenant tenant, string model, string? version, CancellationToken cancellationToken)
    {
        if (OverQuota(tenant) is { } refused)
        {
            return refused;
        }

        try
        {
            var entry = await _catalog.ResolveAsync(tenant.Name, model, version, cancellationToken).ConfigureAwait(false);
            var (replicas, reason) = await _replicas.ExplainAsync(tenant.Name, tenant.ShuffleShardSize, entry.Model, entry.Pool, cancellationToken).ConfigureAwait(false);
            var list = new PlacementReplica[replicas.Count];
            for (var i = 0; i < list.Length; i++)
            {
                list[i] = new PlacementReplica(replicas[i].Id, replicas[i].BaseUrl.ToString().TrimEnd('/'));
            }

            return ServingResult.Success(JsonBodies.Placement(new PlacementResponse(model, entry.Version, entry.Pool, list, reason)), entry.Version);
        }
        catch (ServingException e)
        {
            return ServingResult.Failure(e.Error, version);
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
    public static ServingResult DeadlineExceeded(TimeSpan deadline, string model, string? version) =>
        ServingResult.Failure(ServingError.DeadlineExceeded($"request deadline of {(long)deadline.TotalMilliseconds} ms exceeded before model '{model}' answered (the router's Router__RequestTimeoutSeconds, or lower with header '{ShardHeaders.RequestTimeout}')"), version);

    /// <summary>Forwards an inference request to one of the model's replicas, within the router's deadline.</summary>
    public Task<ServingResult> InferAsync(Tenant tenant, string model, string? version, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        InferAsync(tenant, model, version, body, null, cancellationToken);

    /// <summary>
    /// Forwards an inference request to one of the model's replicas. The deadline (the router's, or
    /// <paramref name="requestedTimeout"/> when lower) covers resolving, forwarding and every retry; past it
    /// the answer is 504.
    /// </summary>
    public async Task<ServingResult> InferAsync(Tenant tenant, string model, string? version, ReadOnlyMemory<byte> body, TimeSpan? requestedTimeout, CancellationToken cancellationToken)
    {
        var deadline = requestedTimeout is { } requested && requested < RequestTimeout ? requested : RequestTimeout;
        using var deadlineSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadlineSource.CancelAfter(deadline);
        try
        {
            // A forward timeout no shorter than the deadline can never fire first: then no timer per attempt.
            var forwardTimeout = TimeSpan.FromSeconds(_options.ForwardTimeoutSeconds);
            var deadlineAt = Stopwatch.GetTimestamp() + (long)(deadline.TotalSeconds * Stopwatch.Frequency);
            return await InferWithinAsync(tenant, model, version, body, forwardTimeout < deadline ? forwardTimeout : null, deadlineAt, deadlineSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadlineSource.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            LogDeadlineExceeded(model, (long)deadline.TotalMilliseconds);
            return DeadlineExceeded(deadline, model, version);
        }
    }

    private async Task<ServingResult> InferWithinAsync(Tenant tenant, string model, string? version, ReadOnlyMemory<byte> body, TimeSpan? forwardTimeout, long deadlineAt, CancellationToken cancellationToken)
    {
        if (OverQuota(tenant) is { } refused)
        {
            return refused;
        }

        ModelVersionEntity entry;
        try
        {
            var resolving = _catalog.ResolveAsync(tenant.Name, model, version, cancellationToken);
            // Only for a name the tenant's set has: a made-up name must not cost the placement read it saves.
            if (!resolving.IsCompleted && (_catalog.Names is not { } names || names.Peek(tenant.Name, model) == true))
            {
                // The registry is being read from storage (a model's first request, or one idle a while):
                // read its placement row at the same time rather than after.
                _replicas.Prefetch(tenant.Name, model);
            }

            entry = await resolving.ConfigureAwait(false);
        }
        catch (ServingException e)
        {
            return ServingResult.Failure(e.Error, version);
        }

        var replicas = await FindReplicasAsync(tenant, entry, cancellationToken).ConfigureAwait(false);
        return await _forwarder.ForwardAsync(tenant.Name, model, entry, replicas, body, forwardTimeout, deadlineAt, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The 429 answer when the tenant is over its quota, else null (the call may go on).</summary>
    private ServingResult? OverQuota(Tenant tenant) =>
        _rateLimiter.TryAcquire(tenant) is { } retryAfter ? ServingResult.Failure(TenantRateLimiter.OverQuota(tenant, retryAfter)) : null;

    /// <summary>The model's replicas in preference order (primary first), live shards only.</summary>
    public ValueTask<IReadOnlyList<ShardInfo>> FindReplicasAsync(Tenant tenant, ModelVersionEntity entry, CancellationToken cancellationToken) =>
        _replicas.ResolveAsync(tenant.Name, tenant.ShuffleShardSize, entry.Model, entry.Pool, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Request for model {Model} passed its deadline of {DeadlineMs} ms; answered 504")]
    private partial void LogDeadlineExceeded(string model, long deadlineMs);
}
