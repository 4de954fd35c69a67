using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Cli.Commands;
using Serverless.Core.Placement;
using Serverless.Cli.Cluster;
using Serverless.Cli.Publishing;
using Serverless.Publishing;
using Serverless.Core.Registry;
using Serverless.Core.Storage;
using Serverless.Core.Tenancy;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>
/// A real local cluster for a test class or assembly: Azurite in memory, router, shards and publisher as
/// processes on free loopback ports, its state in a temporary folder. Stopped (every process killed) on dispose.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private TestCluster(StateDirectory directory, LocalCluster cluster, LocalClusterState state)
    {
        Directory = directory;
        Cluster = cluster;
        State = state;
        _services = CliServices.Create(state.Storage, state.InternalKey);
        Storage = _services.GetRequiredService<StorageClients>();
        Registry = _services.GetRequiredService<ModelRegistry>();
        Tenants = _services.GetRequiredService<TenantStore>();
        Lifecycle = _services.GetRequiredService<ModelLifecycle>();
        Placements = _services.GetRequiredService<PlacementStore>();
        Http = new HttpClient { BaseAddress = new Uri(state.RouterUrl), Timeout = TimeSpan.FromSeconds(30) };
        DropEvents = DropEventNotifier.For(state);
    }

    public StateDirectory Directory { get; }

    public LocalCluster Cluster { get; }

    public LocalClusterState State { get; }

    public StorageClients Storage { get; }

    public ModelRegistry Registry { get; }

    public TenantStore Tenants { get; }

    public ModelLifecycle Lifecycle { get; }

    public PlacementStore Placements { get; }

    public HttpClient Http { get; }

    /// <summary>Sends each drop's Event Grid event to the publisher, as the CLI does.</summary>
    public DropEventNotifier? DropEvents { get; }

    public string DemoKey => State.Tenants[0].ApiKey;

    /// <summary>The GPU app's budget in test clusters: small, so a test can publish a GPU model too large for it.</summary>
    public const long GpuCacheBytes = 32L * 1024 * 1024;

    public static async Task<TestCluster> StartAsync(int shards, IReadOnlyDictionary<string, string>? shardSettings = null, CancellationToken cancellationToken = default) =>
        await StartAsync(shards, shardSettings, persistStorage: false, cancellationToken).ConfigureAwait(false);

    /// <summary>As above; <paramref name="persistStorage"/> keeps Azurite's data on disk, so a stopped Azurite comes back with it.</summary>
    public static Task<TestCluster> StartAsync(int shards, IReadOnlyDictionary<string, string>? shardSettings, bool persistStorage, CancellationToken cancellationToken = default) =>
        StartAsync(shards, shardSettings, persistStorage, publisherSettings: null, cancellationToken);

    /// <summary>As above, with settings for the publisher process too.</summary>
    public static async Task<TestCluster> StartAsync(int shards, IReadOnlyDictionary<string, string>? shardSettings, bool persistStorage, IReadOnlyDictionary<string, string>? publisherSettings, CancellationToken cancellationToken = default)
    {
        var directory = new StateDirectory(Path.Combine(Path.GetTempPath(), "serverless-test-" + Guid.NewGuid().ToString("N")[..8]));
        var cluster = new LocalCluster(directory, message => Console.WriteLine(message));
        var options = new LocalClusterOptions { Shards = shards, RouterPort = 0, PersistStorage = persistStorage, ShardCacheBytes = 256L * 1024 * 1024, GpuCacheBytes = GpuCacheBytes };
        foreach (var (key, value) in shardSettings ?? new Dictionary<string, string>())
        {
            options.ShardSettings[key] = value;
        }

        foreach (var (key, value) in publisherSettings ?? new Dictionary<string, string>())
        {
            options.PublisherSettings[key] = value;
        }

        var state = await cluster.StartAsync(options, cancellationToken).ConfigureAwait(false);
        return new TestCluster(directory, cluster, state);
    }

    /// <summary>Publishes through the blob drop, as the CLI does, and returns the verdict.</summary>
    public Task<PublishOutcome> PublishAsync(string tenant, string model, string version, byte[] bytes, byte[]? manifest = null) =>
        new DropPublisher(Storage, Registry, DropEvents).PublishAsync(tenant, model, version, bytes, manifest, TimeSpan.FromSeconds(60), null, CancellationToken.None);

    /// <summary>POSTs a v2 inference request to the router with the given key.</summary>
    public async Task<(int Status, JsonNode? Body, HttpResponseMessage Response)> InferAsync(string? apiKey, string model, string json, string? version = null)
    {
        var path = version is null ? $"v2/models/{model}/infer" : $"v2/models/{model}/versions/{version}/infer";
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        var response = await Http.SendAsync(request).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text), response);
    }

    /// <summary>GETs a router path with the given key.</summary>
    public async Task<(int Status, JsonNode? Body)> GetAsync(string? apiKey, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (apiKey is not null)
        {
            request.Headers.TryAddWithoutValidation("x-api-key", apiKey);
        }

        using var response = await Http.SendAsync(request).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>True when every process of the cluster is still running (none crashed).</summary>
    public bool AllProcessesAlive()
    {
        foreach (var process in State.AllProcesses())
        {
            if (!ChildProcesses.IsOurs(process.Pid, State.MarkerOf(process)))
            {
                return false;
            }
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        DropEvents?.Dispose();
        await Cluster.StopAsync(State).ConfigureAwait(false);
        await _services.DisposeAsync().ConfigureAwait(false);
        try
        {
            System.IO.Directory.Delete(Directory.Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
