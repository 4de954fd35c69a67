using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Placement;
using Serverless.Core.Registry;
using Serverless.Core.Tenancy;

namespace Serverless.Routing;

/// <summary>
/// Loads a model version on each of its replicas (the shards' load endpoint), so a switch to it (an
/// alias move) does not make the next request a cold load.
/// </summary>
public sealed partial class ReplicaWarmer
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly ReplicaResolver _replicas;
    private readonly TenantStore _tenants;
    private readonly IHttpClientFactory _httpClientFactory;
    private readonly ILogger<ReplicaWarmer> _logger;
    private readonly InternalKeyOptions _internalKey;

    public ReplicaWarmer(ReplicaResolver replicas, TenantStore tenants, IHttpClientFactory httpClientFactory, IOptions<InternalKeyOptions> internalKey, ILogger<ReplicaWarmer> logger)
    {
        _internalKey = internalKey.Value;
        _replicas = replicas;
        _tenants = tenants;
        _httpClientFactory = httpClientFactory;
        _logger = logger;
    }

    /// <summary>Warms the version on every replica, in parallel; returns one line per replica saying how it went.</summary>
    public async Task<IReadOnlyList<string>> WarmAsync(ModelVersionEntity version, CancellationToken cancellationToken)
    {
        var k = await _tenants.GetShuffleShardSizeAsync(version.Tenant, cancellationToken).ConfigureAwait(false);
        var replicas = await _replicas.ResolveAsync(version.Tenant, k, version.Model, version.Pool, cancellationToken).ConfigureAwait(false);
        var client = _httpClientFactory.CreateClient(ShardClient.HttpClientName);
        var results = await Task.WhenAll(replicas.Select(async shard =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(shard.BaseUrl, $"v2/repository/models/{version.Model}/versions/{version.Version}/load"));
                request.Headers.TryAddWithoutValidation(ShardHeaders.Tenant, version.Tenant);
                if (_internalKey.IsConfigured)
                {
                    request.Headers.TryAddWithoutValidation(ShardHeaders.InternalKey, _internalKey.ShardKey);
                }
                using var response = await client.SendAsync(request, timeout.Token).ConfigureAwait(false);
                return response.IsSuccessStatusCode
                    ? $"{shard.Id}: loaded ({(response.Headers.TryGetValues(ShardHeaders.Cache, out var cache) ? cache.FirstOrDefault() : "?")})"
                    : $"{shard.Id}: answered {(int)response.StatusCode}";
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                LogWarmFailed(e, shard.Id, version.Model, version.Version);
                return $"{shard.Id}: not reached ({e.Message})";
            }
        })).ConfigureAwait(false);
        return results;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not warm {Model} version {Version} on {ShardId}")]
    private partial void LogWarmFailed(Exception exception, string shardId, string model, string version);
}
