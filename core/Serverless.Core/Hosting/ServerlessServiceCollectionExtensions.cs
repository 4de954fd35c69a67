using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Serverless.Core.Placement;
using Serverless.Core.Publishing;
using Serverless.Core.Registry;
using Serverless.Core.Routing;
using Serverless.Core.Scoring;
using Serverless.Core.Sharding;
using Serverless.Core.Storage;
using Serverless.Core.Tenancy;

namespace Serverless.Core.Hosting;

/// <summary>
/// The service registrations of each app. The Functions <c>Program.cs</c> and the local host call the
/// same method, so both run the same objects behind the same function classes.
/// </summary>
public static class ServerlessServiceCollectionExtensions
{
    /// <summary>Storage, registry and the shared caches every app uses.</summary>
    public static IServiceCollection AddServerlessStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddMemoryCache();
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<StorageClients>();
        services.TryAddSingleton<ModelRegistry>();
        services.TryAddSingleton<ModelCatalog>();
        return services;
    }

    /// <summary>A shard app: session cache, loader, scoring, heartbeat.</summary>
    public static IServiceCollection AddServerlessShard(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddServerlessStorage(configuration);
        services.AddOptions<ShardOptions>().Bind(configuration.GetSection(ShardOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<OrtRuntime>();
        services.TryAddSingleton<SessionCache>();
        services.TryAddSingleton<ModelLoader>();
        services.TryAddSingleton<ScoringService>();
        services.TryAddSingleton<ShardDirectory>();
        services.AddHostedService<ShardHeartbeatService>();
        return services;
    }

    /// <summary>The router app: tenants, placement, forwarding over pooled connections.</summary>
    public static IServiceCollection AddServerlessRouter(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddServerlessStorage(configuration);
        services.AddOptions<RouterOptions>().Bind(configuration.GetSection(RouterOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<TenantStore>();
        services.TryAddSingleton<PlacementStore>();
        services.TryAddSingleton<ShardDirectory>();
        services.TryAddSingleton<RouterService>();
        var connectTimeout = TimeSpan.FromSeconds(configuration.GetSection(RouterOptions.SectionName).GetValue(nameof(RouterOptions.ConnectTimeoutSeconds), 2));
        services.AddHttpClient(RouterService.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                // Pooled, long-lived connections to the shards; recycled so DNS changes are seen.
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
                ConnectTimeout = connectTimeout,
                MaxConnectionsPerServer = 256,
                UseProxy = false,
                UseCookies = false,
                AllowAutoRedirect = false,
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        return services;
    }

    /// <summary>The publisher app: validation with ONNX Runtime, storage, registry.</summary>
    public static IServiceCollection AddServerlessPublisher(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddServerlessStorage(configuration);
        services.AddOptions<PublisherOptions>().Bind(configuration.GetSection(PublisherOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<OrtRuntime>();
        services.TryAddSingleton<ModelPublisher>();
        return services;
    }
}
