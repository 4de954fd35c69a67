using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Http;
using Serverless.Core.Observability;
using Serverless.Core.Placement;
using Serverless.Publishing;
using Serverless.Core.Registry;
using Serverless.Routing;
using Serverless.Scoring;
using Serverless.Core.Sharding;
using Serverless.Core.Storage;
using Serverless.Core.Tenancy;

namespace Serverless.Http.Hosting;

/// <summary>
/// The service registrations of each app. The Functions <c>Program.cs</c> and the local host call the
/// same method, so both run the same objects behind the same function classes.
/// </summary>
public static class ServerlessServiceCollectionExtensions
{
    /// <summary>Entries the shared memory cache holds at most (tenant rows, registry rows, placement rows, dashboard data).</summary>
    public const long SharedCacheEntries = 200_000;

    /// <summary>Storage, registry and the shared caches every app uses.</summary>
    public static IServiceCollection AddServerlessStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        // Every entry of the shared cache is Size = 1 (rows, not bytes): the bound on what client input can make it hold
        // (negative answers for made-up names, tenants' rows); compaction drops the least recently used past it.
        services.AddMemoryCache(o => o.SizeLimit = SharedCacheEntries);
        services.AddMetrics();
        services.AddServerlessObservability(configuration);
        // Only a shard has a session cache; a factory, so an app without one still validates its services.
        services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<ShardStatsReporter>(sp));
        services.TryAddSingleton<DashboardService>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<StorageClients>();
        services.TryAddSingleton<RegistryEpochs>();
        services.TryAddSingleton(sp => new ModelRegistry(sp.GetRequiredService<StorageClients>(), sp.GetRequiredService<Microsoft.Extensions.Caching.Memory.IMemoryCache>(), sp.GetRequiredService<RegistryEpochs>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<ModelNameIndex>();
        services.TryAddSingleton<ModelListing>();
        // Explicitly with the name sets: the apps answer made-up model names without a storage read.
        services.TryAddSingleton(sp => new ModelCatalog(sp.GetRequiredService<ModelRegistry>(), sp.GetRequiredService<ModelNameIndex>()));
        return services;
    }

    /// <summary>The dashboard's registry census (section <c>Dashboard</c>): the router's, and the CLI's for tests and tools.</summary>
    public static IServiceCollection AddRegistryCensus(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RegistryCensusOptions>().Bind(configuration.GetSection(RegistryCensusOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<RegistryCensus>();
        return services;
    }

    /// <summary>A shard app: session cache, loader, scoring, heartbeat.</summary>
    public static IServiceCollection AddServerlessShard(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddServerlessStorage(configuration);
        services.AddOptions<ShardOptions>().Bind(configuration.GetSection(ShardOptions.SectionName)).ValidateDataAnnotations()
            .Validate(o => o.MaxRequestMemoryBytes <= o.InFlightMemoryBytes, $"{ShardOptions.SectionName}__{nameof(ShardOptions.MaxRequestMemoryBytes)} must not exceed {ShardOptions.SectionName}__{nameof(ShardOptions.InFlightMemoryBytes)}: one request alone would never fit")
            .Validate(o => o.EffectivePinnedBytes <= o.CacheBytes / 2, $"{ShardOptions.SectionName}__{nameof(ShardOptions.PinnedBytes)} must not exceed half of {ShardOptions.SectionName}__{nameof(ShardOptions.CacheBytes)}: pinned models would leave unpinned ones too little room to load")
            .ValidateOnStart();
        services.AddOptions<OrtOptions>().Bind(configuration.GetSection(OrtOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<OrtRuntime>();
        services.TryAddSingleton<LoadScheduler>();
        services.TryAddSingleton<SessionCache>();
        services.TryAddSingleton<MemoryPressureMonitor>();
        services.TryAddSingleton<RequestMemoryBudget>();
        services.TryAddSingleton<ModelDiskTier>();
        services.TryAddSingleton<ModelLoader>();
        services.TryAddSingleton<ScoringService>();
        services.TryAddSingleton<ModelPins>();
        services.TryAddSingleton<ShardCallerAuthenticator>();
        services.TryAddSingleton<DirectCallGate>();
        services.TryAddSingleton<ModelTraffic>();
        services.TryAddSingleton<HotModelTracker>();
        services.TryAddSingleton<ShardReadiness>();
        services.TryAddSingleton<ShardEndpoints>();
        services.AddOptions<ScalingOptions>().Bind(configuration.GetSection(ScalingOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddServerlessInternalKey(configuration, "shard");
        services.AddServerlessLifecycle(TimeSpan.FromSeconds(2));
        services.AddHostedService<RegistryEpochPoller>();
        services.AddHostedService<ModelNameSetFollower>();
        services.AddHostedService<ShardHeartbeatService>();
        services.AddHostedService<ModelAutoscaler>();
        services.AddHostedService<ShardWarmupService>();
        services.AddHostedService<ModelPinRefresher>();
        return services;
    }

    /// <summary>
    /// The GPU container app: a shard (pool <c>gpu</c>) that is its own Kestrel host in Azure, so it also binds the
    /// slow-client limits (section <c>HttpLimits</c>) that the Functions front end applies for the function apps.
    /// </summary>
    public static IServiceCollection AddServerlessGpu(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddServerlessShard(configuration);
        services.AddServerlessKestrelLimits(configuration);
        return services;
    }

    /// <summary>The router app: tenants, placement, forwarding over pooled connections.</summary>
    public static IServiceCollection AddServerlessRouter(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddServerlessStorage(configuration);
        services.AddOptions<RouterOptions>().Bind(configuration.GetSection(RouterOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        // The dashboard's registry census: only the router serves the dashboard.
        services.AddRegistryCensus(configuration);
        services.TryAddSingleton<ReplicaSelector>();
        services.TryAddSingleton<RetryBudget>();
        services.TryAddSingleton<RouterInstances>();
        services.TryAddSingleton<TenantRateLimiter>();
        services.TryAddSingleton<ShardForwarder>();
        services.TryAddSingleton<RouterService>();
        services.TryAddSingleton<RouterEndpoints>();
        services.AddHostedService<RegistryEpochPoller>();
        services.AddHostedService<ModelNameSetFollower>();
        services.AddHostedService<RouterHeartbeatService>();
        services.AddServerlessInternalKey(configuration, "router");
        var connectTimeout = configuration.GetSection(RouterOptions.SectionName).GetValue(nameof(RouterOptions.ConnectTimeoutSeconds), 2);
        services.AddServerlessLifecycle(TimeSpan.FromSeconds(connectTimeout));
        return services;
    }

    /// <summary>The publisher app: validation with ONNX Runtime, storage, registry.</summary>
    public static IServiceCollection AddServerlessPublisher(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddServerlessStorage(configuration);
        services.AddOptions<PublisherOptions>().Bind(configuration.GetSection(PublisherOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<OrtRuntime>();
        services.TryAddSingleton<TenantPublishLimits>();
        services.TryAddSingleton<IModelValidator>(static provider =>
            provider.GetRequiredService<IOptions<PublisherOptions>>().Value.ValidatorProcesses == 0
                ? new InProcessModelValidator(provider.GetRequiredService<OrtRuntime>())
                : new ModelValidatorPool(provider.GetRequiredService<IOptions<PublisherOptions>>(), provider.GetRequiredService<ILogger<ModelValidatorPool>>()));
        services.TryAddSingleton<ModelPublisher>();
        services.AddServerlessInternalKey(configuration, "publisher");
        services.AddServerlessLifecycle(TimeSpan.FromSeconds(2));
        return services;
    }

    /// <summary>
    /// The internal key (section <c>Internal</c>) every caller of shards sends and every shard checks; the
    /// apps also log a warning at start when it is not set. <paramref name="app"/>: <c>shard</c>, <c>router</c>,
    /// <c>publisher</c>, or null for a tool (no start-up check).
    /// </summary>
    public static IServiceCollection AddServerlessInternalKey(this IServiceCollection services, IConfiguration configuration, string? app)
    {
        services.AddOptions<InternalKeyOptions>().Bind(configuration.GetSection(InternalKeyOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        if (app is not null)
        {
            services.AddSingleton<IHostedService>(sp => ActivatorUtilities.CreateInstance<InternalKeyStartupCheck>(sp, app));
        }

        return services;
    }

    /// <summary>
    /// Tenants, placement and the model lifecycle (aliases with warm-up, retire, delete): what the
    /// router, the publisher and the CLI need to find and call a model's replicas.
    /// </summary>
    public static IServiceCollection AddServerlessLifecycle(this IServiceCollection services, TimeSpan connectTimeout)
    {
        // With the tenants' epoch where the app polls it: made-up tenant names in keys cost no read per name, and a
        // tenant created a moment ago is seen through an on-demand read of that epoch (TenantStore.MayExistAsync).
        services.TryAddSingleton(sp => new TenantStore(sp.GetRequiredService<StorageClients>(), sp.GetRequiredService<Microsoft.Extensions.Caching.Memory.IMemoryCache>(), sp.GetService<RegistryEpochs>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<PlacementStore>();
        services.TryAddSingleton<ShardDirectory>();
        services.TryAddSingleton<ReplicaResolver>();
        services.TryAddSingleton<ReplicaWarmer>();
        services.TryAddSingleton<ModelLifecycle>();
        services.TryAddSingleton<AuditLog>();
        services.TryAddSingleton<RegistryCheck>();
        if (!services.Any(d => d.ServiceType == typeof(ShardClientMarker)))
        {
            services.AddSingleton<ShardClientMarker>();
            services.AddShardHttpClient(connectTimeout);
        }

        return services;
    }

    /// <summary>Marks that the shard HTTP client is registered, so it is registered once.</summary>
    private sealed class ShardClientMarker;
}
