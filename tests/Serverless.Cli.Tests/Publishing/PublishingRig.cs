using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Registry;
using Serverless.Core.Storage;
using Serverless.Http.Hosting;
using Serverless.Publishing;
using Serverless.Routing;
using Serverless.Scoring;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>
/// The publisher's and the lifecycle's objects in the test process, against the shared cluster's storage, composed with
/// the apps' own registrations: a test calls <see cref="ModelPublisher.PublishAsync"/> directly as a delivery of the blob
/// trigger does (two at once where the trigger delivers twice), and warm-ups go to a <see cref="WarmGate"/>.
/// </summary>
public sealed class PublishingRig : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public PublishingRig(string storageConnectionString, OrtRuntime runtime, WarmGate gate)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                [$"{StorageOptions.SectionName}:ConnectionString"] = storageConnectionString,
                [$"{InternalKeyOptions.SectionName}:{nameof(InternalKeyOptions.ShardKey)}"] = "rig-key",
            })
            .Build();
        var services = new ServiceCollection();
        services.AddLogging();
        // Before the publisher's registrations, which add one only where none is.
        services.AddSingleton(runtime);
        services.AddServerlessPublisher(configuration);
        services.AddHttpClient(ShardClient.HttpClientName).AddHttpMessageHandler(() => new WarmGateHandler(gate));
        _services = services.BuildServiceProvider();
        Storage = _services.GetRequiredService<StorageClients>();
        Registry = _services.GetRequiredService<ModelRegistry>();
        Lifecycle = _services.GetRequiredService<ModelLifecycle>();
    }

    public StorageClients Storage { get; }

    public ModelRegistry Registry { get; }

    public ModelLifecycle Lifecycle { get; }

    /// <summary>A publisher of its own (as another instance would be) with this size limit, on a <see cref="SteppingClock"/>.</summary>
    public ModelPublisher Publisher(long maxModelBytes = 64L * 1024 * 1024) =>
        new(
            Storage,
            Registry,
            Lifecycle,
            // In this process: the validator pool would start this test host again, which is no publisher.
            new InProcessModelValidator(_services.GetRequiredService<OrtRuntime>()),
            _services.GetRequiredService<TenantPublishLimits>(),
            Options.Create(new PublisherOptions { MaxModelBytes = maxModelBytes }),
            new SteppingClock(),
            _services.GetRequiredService<ILogger<ModelPublisher>>());

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
