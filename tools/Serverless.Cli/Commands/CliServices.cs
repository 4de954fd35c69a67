using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Http.Hosting;
using Serverless.Routing;
using Serverless.Core.Storage;

namespace Serverless.Cli.Commands;

/// <summary>
/// The core services the CLI uses against a cluster's storage, composed with the same registrations the
/// apps use (registry, lifecycle with warm-ups, placement), so the CLI changes nothing the apps would not.
/// </summary>
public static class CliServices
{
    /// <param name="storageConnectionString">The cluster's storage.</param>
    /// <param name="internalKey">The cluster's internal key (local.json), sent on the CLI's own calls to shards (warm-ups).</param>
    public static ServiceProvider Create(string storageConnectionString, string? internalKey = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                [$"{StorageOptions.SectionName}:ConnectionString"] = storageConnectionString,
                [$"{InternalKeyOptions.SectionName}:{nameof(InternalKeyOptions.ShardKey)}"] = internalKey ?? "",
            })
            .Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddServerlessStorage(configuration);
        services.AddRegistryCensus(configuration);
        services.AddServerlessInternalKey(configuration, app: null);
        services.AddServerlessLifecycle(TimeSpan.FromSeconds(2));
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }
}
