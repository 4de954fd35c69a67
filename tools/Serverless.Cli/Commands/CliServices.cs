using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Hosting;
using Serverless.Core.Storage;

namespace Serverless.Cli.Commands;

/// <summary>
/// The core services the CLI uses against a cluster's storage, composed with the same registrations the
/// apps use (registry, lifecycle with warm-ups, placement), so the CLI changes nothing the apps would not.
/// </summary>
public static class CliServices
{
    public static ServiceProvider Create(string storageConnectionString)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [$"{StorageOptions.SectionName}:ConnectionString"] = storageConnectionString })
            .Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddServerlessStorage(configuration);
        services.AddServerlessLifecycle(TimeSpan.FromSeconds(2));
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }
}
