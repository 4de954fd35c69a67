using Microsoft.Extensions.DependencyInjection;

namespace Serverless.Routing;

/// <summary>The pooled HTTP client every caller of shards uses (router forwarding, warm-ups).</summary>
public static class ShardClient
{
    public const string HttpClientName = "shards";

    /// <summary>Registers the named client: pooled, long-lived connections, short connect timeout, no proxy.</summary>
    public static IServiceCollection AddShardHttpClient(this IServiceCollection services, TimeSpan connectTimeout)
    {
        services.AddHttpClient(HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                // Recycled every few minutes so DNS changes (a shard app moving) are seen.
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
                ConnectTimeout = connectTimeout,
                MaxConnectionsPerServer = 256,
                UseProxy = false,
                UseCookies = false,
                AllowAutoRedirect = false,
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            // The factory's default logging handlers open a log scope and log twice per request (start, end) on
            // the router's hot path; a failed forward is logged by the router itself, with its reason.
            .RemoveAllLoggers();
        return services;
    }
}
