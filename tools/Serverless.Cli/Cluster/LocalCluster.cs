using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Serverless.Cli.Publishing;
using Serverless.Core.Registry;
using Serverless.Core.Sharding;
using Serverless.Core.Storage;
using Serverless.Core.Tenancy;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Cluster;

/// <summary>
/// The whole platform on one machine, on loopback only: Azurite, the router, N shards and the publisher,
/// each its own process running the function apps' classes under the local host.
/// </summary>
public sealed class LocalCluster
{
    public const string DemoTenant = "demo";
    public const string DemoModel = "demo-linear";
    private const string HostMarker = "Serverless.LocalHost";
    private readonly StateDirectory _state;
    private readonly Action<string> _log;
    private LocalClusterOptions _options = new();
    private string _internalKey = "";

    public LocalCluster(StateDirectory state, Action<string> log)
    {
        _state = state;
        _log = log;
    }

    /// <summary>The path of the local host program, built beside this tool.</summary>
    public static string LocalHostPath => Path.Combine(AppContext.BaseDirectory, HostMarker + ".dll");

    /// <summary>Starts everything and waits until it is ready; on failure stops what it started.</summary>
    public async Task<LocalClusterState> StartAsync(LocalClusterOptions options, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Shards, 1);
        _options = options;
        var state = new LocalClusterState();
        // One internal key per cluster, made once here and given to every app (StartApp).
        state.InternalKey = _internalKey = System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var previous = _state.Read();
        try
        {
            var tools = Azurite.ToolsDirectory();
            await Azurite.EnsureInstalledAsync(tools, _log, cancellationToken).ConfigureAwait(false);
            _log("Starting Azurite…");
            var azurite = await Azurite.StartAsync(
                tools, options.PersistStorage ? _state.AzuriteDataPath : null, Path.Combine(_state.LogsPath, "azurite.log"), cancellationToken).ConfigureAwait(false);
            var connectionString = azurite.ConnectionString;
            Record(state, azurite);
            _state.Write(state);

            var storage = CreateStorage(connectionString);
            await storage.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);

            var routerPort = options.RouterPort == 0 ? Azurite.FreePort() : options.RouterPort;
            _log($"Starting the router on 127.0.0.1:{routerPort}, {options.Shards} shard(s) and the publisher…");
            state.AdminKey = System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
            state.Router = StartApp("router", "router", routerPort, connectionString, new Dictionary<string, string> { ["Router__AdminKey"] = state.AdminKey });
            state.RouterUrl = state.Router.Url;
            for (var i = 0; i < options.Shards; i++)
            {
                state.Shards.Add(StartShard($"shard-{i:00}", Azurite.FreePort(), connectionString));
            }

            state.Publisher = StartApp("publisher", "publisher", Azurite.FreePort(), connectionString, PublisherSettings(connectionString));
            if (options.Gpu)
            {
                state.Gpu = StartGpu(Azurite.FreePort(), connectionString);
            }

            _state.Write(state);

            await WaitReadyAsync(state, storage, cancellationToken).ConfigureAwait(false);
            if (options.CreateDemo)
            {
                await CreateDemoAsync(state, previous, storage, cancellationToken).ConfigureAwait(false);
            }

            _state.Write(state);
            return state;
        }
        catch
        {
            await StopAsync(state).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops every process recorded in the state (apps first, Azurite last) and removes local.json.</summary>
    public async Task StopAsync(LocalClusterState state)
    {
        var stops = new List<Task>();
        foreach (var process in state.AllProcesses())
        {
            if (process != state.Azurite && process != state.AzuriteTables)
            {
                stops.Add(ChildProcesses.StopAsync(process.Pid, state.MarkerOf(process), TimeSpan.FromSeconds(15)));
            }
        }

        await Task.WhenAll(stops).ConfigureAwait(false);
        await StopAzuriteAsync(state, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _state.Delete();
    }

    /// <summary>
    /// Stops one shard (SIGTERM: it drains) and starts a new instance of it on the same port, as a
    /// restart or a replacement instance would; returns once the new instance reports ready (after its prewarm).
    /// </summary>
    public async Task RestartShardAsync(LocalClusterState state, string shardId, CancellationToken cancellationToken)
    {
        var old = state.Shards.Single(s => s.Id == shardId);
        await ChildProcesses.StopAsync(old.Pid, HostMarker, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        var port = new Uri(old.Url).Port;
        _internalKey = state.InternalKey;
        var fresh = StartShard(shardId, port, state.Storage);
        state.Shards[state.Shards.IndexOf(old)] = fresh;
        _state.Write(state);
        await WaitReadyAsync(state, CreateStorage(state.Storage), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops Azurite (SIGINT: it saves its data and exits) as a storage outage would; the apps keep running.
    /// Only a cluster started with <see cref="LocalClusterOptions.PersistStorage"/> gets its data back on
    /// <see cref="StartAzuriteAsync"/>.
    /// </summary>
    public Task StopAzuriteAsync(LocalClusterState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return StopAzuriteAsync(state, TimeSpan.FromSeconds(10));
    }

    /// <summary>Starts Azurite again on the same ports and data folder, so the running apps reconnect to it.</summary>
    public async Task StartAzuriteAsync(LocalClusterState state, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        var tools = Azurite.ToolsDirectory();
        var azurite = await Azurite.StartAsync(
            tools, _options.PersistStorage ? _state.AzuriteDataPath : null, Path.Combine(_state.LogsPath, "azurite.log"), state.Storage, cancellationToken).ConfigureAwait(false);
        Record(state, azurite);
        _state.Write(state);
    }

    private static void Record(LocalClusterState state, AzuriteProcesses azurite)
    {
        state.Azurite = new ProcessEntry("azurite", $"http://127.0.0.1:{azurite.BlobPort}", azurite.BlobPid);
        state.AzuriteTables = new ProcessEntry("azurite-table", $"http://127.0.0.1:{Azurite.PortOf(azurite.ConnectionString, "TableEndpoint")}", azurite.TablePid);
        state.Storage = azurite.ConnectionString;
    }

    private static async Task StopAzuriteAsync(LocalClusterState state, TimeSpan grace)
    {
        var stops = new List<Task>(2);
        foreach (var process in new[] { state.Azurite, state.AzuriteTables })
        {
            if (process is not null)
            {
                // SIGINT: azurite-table saves its data on SIGINT only; on SIGTERM it dies with its latest rows
                // unsaved (azurite-blob saves on either).
                stops.Add(ChildProcesses.StopAsync(process.Pid, "azurite", grace, "INT"));
            }
        }

        await Task.WhenAll(stops).ConfigureAwait(false);
    }

    /// <summary>
    /// Kills the publisher outright (SIGKILL: no cleanup, as a crash or a lost instance) and starts a new one on
    /// the same port, which picks up the drops the old one left unfinished.
    /// </summary>
    public void KillAndRestartPublisher(LocalClusterState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var old = state.Publisher ?? throw new InvalidOperationException("the cluster has no publisher");
        if (ChildProcesses.IsOurs(old.Pid, HostMarker))
        {
            ChildProcesses.Kill(old.Pid);
        }

        _internalKey = state.InternalKey;
        state.Publisher = StartApp("publisher", "publisher", new Uri(old.Url).Port, state.Storage, PublisherSettings(state.Storage));
        _state.Write(state);
    }

    /// <summary>True when any process of the state is still running.</summary>
    public static bool IsRunning(LocalClusterState state)
    {
        foreach (var process in state.AllProcesses())
        {
            if (ChildProcesses.IsOurs(process.Pid, state.MarkerOf(process)))
            {
                return true;
            }
        }

        return false;
    }

    private long GpuCacheBytes => _options.GpuCacheBytes ?? _options.ShardCacheBytes;

    public static StorageClients CreateStorage(string connectionString) =>
        new(Options.Create(new StorageOptions { ConnectionString = connectionString }));

    /// <summary>
    /// The GPU app: the shard's function classes on ASP.NET Core, pool <c>gpu</c>, asking for the CUDA
    /// execution provider (on this machine it falls back to CPU and says so in its log and health).
    /// </summary>
    private ProcessEntry StartGpu(int port, string connectionString)
    {
        const string id = "gpu-00";
        var environment = AppEnvironment(
            new Dictionary<string, string>(_options.ShardSettings)
            {
                ["Shard__Id"] = id,
                ["Shard__Pool"] = "gpu",
                ["Shard__BaseUrl"] = $"http://127.0.0.1:{port}",
                ["Shard__CacheBytes"] = GpuCacheBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Shard__DiskTierPath"] = Path.Combine(_state.Path, "tier", id),
                ["Ort__ExecutionProvider"] = "cuda",
                ["DOTNET_GCgen0size"] = ShardGen0Size,
                ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
            },
            connectionString);
        var pid = ChildProcesses.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "Serverless.Gpu.dll"), "--urls", $"http://127.0.0.1:{port}"], environment, Path.Combine(_state.LogsPath, id + ".log"));
        return new ProcessEntry(id, $"http://127.0.0.1:{port}", pid);
    }

    /// <summary>
    /// The gen0 budget of shard processes (hex bytes, 16 MiB), as infra/app/shards.bicep sets it in Azure. The runtime
    /// sizes it from the L3 cache the machine reports, and a VM reporting a large one (300 MB on the 2-core Xeon
    /// here) let a shard's garbage grow by ~60 MB between collections: measured in `bench --scenario density` as
    /// 84.6 KiB per tiny model instead of 53.8. A shard's memory is its model budget; a gen0 collection every
    /// 16 MiB of garbage costs it little.
    /// </summary>
    private const string ShardGen0Size = "0x1000000";

    private const string LocalUtilizationSetting = "Scaling__UtilizationPerReplica";

    private Dictionary<string, string> PublisherSettings(string connectionString) =>
        new(_options.PublisherSettings)
        {
            ["ModelDropStorage"] = connectionString,
            ["Publisher__GpuCacheBytes"] = GpuCacheBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

    private ProcessEntry StartShard(string id, int port, string connectionString)
    {
        var settings = new Dictionary<string, string>(_options.ShardSettings)
        {
            ["Shard__Id"] = id,
            ["Shard__Pool"] = "cpu",
            ["Shard__BaseUrl"] = $"http://127.0.0.1:{port}",
            ["Shard__CacheBytes"] = _options.ShardCacheBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Shard__DiskTierPath"] = Path.Combine(_state.Path, "tier", id),
            ["DOTNET_GCgen0size"] = ShardGen0Size,
        };
        // Every local shard runs on this machine's cores: a replica on another shard adds no CPU here, so scaling by
        // CPU is off (by requests in flight, and by rate where set, stays on). A caller's setting wins.
        if (Environment.GetEnvironmentVariable(LocalUtilizationSetting) is null)
        {
            settings.TryAdd(LocalUtilizationSetting, "0");
        }

        return StartApp("shard", id, port, connectionString, settings);
    }

    private ProcessEntry StartApp(string app, string id, int port, string connectionString, IReadOnlyDictionary<string, string> settings)
    {
        var environment = AppEnvironment(settings, connectionString);
        var pid = ChildProcesses.Start("dotnet", [LocalHostPath, "--app", app, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], environment, Path.Combine(_state.LogsPath, id + ".log"));
        return new ProcessEntry(id, $"http://127.0.0.1:{port}", pid);
    }

    /// <summary>An app's settings plus what every local app gets: the storage, the internal key, production mode, workstation GC.</summary>
    private Dictionary<string, string> AppEnvironment(IReadOnlyDictionary<string, string> settings, string connectionString) =>
        new(settings)
        {
            ["Storage__ConnectionString"] = connectionString,
            ["Internal__ShardKey"] = _internalKey,
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["DOTNET_gcServer"] = "0",
        };

    private async Task WaitReadyAsync(LocalClusterState state, StorageClients storage, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        var apps = new List<(ProcessEntry Entry, string Path)> { (state.Router!, "/v2/health/ready"), (state.Publisher!, "/admin/host/status") };
        foreach (var shard in state.Shards)
        {
            apps.Add((shard, "/v2/health/ready"));
        }

        if (state.Gpu is not null)
        {
            apps.Add((state.Gpu, "/v2/health/ready"));
        }

        foreach (var (entry, path) in apps)
        {
            while (true)
            {
                if (ChildProcesses.HasExitedAtStart(entry.Pid))
                {
                    throw new InvalidOperationException($"{entry.Id} exited at start; see {Path.Combine(_state.LogsPath, entry.Id + ".log")}");
                }

                try
                {
                    using var response = await http.GetAsync(new Uri(entry.Url + path), cancellationToken).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{entry.Id} did not become ready within 90 s; see {Path.Combine(_state.LogsPath, entry.Id + ".log")}");
                }

                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }

        // The router finds shards in Table `shards`: wait until every shard has registered.
        using var cache = new MemoryCache(new MemoryCacheOptions());
        var directory = new ShardDirectory(storage, cache, TimeProvider.System);
        while (true)
        {
            var rows = await directory.ListAsync(null, cancellationToken).ConfigureAwait(false);
            var registered = 0;
            var expected = state.Gpu is null ? state.Shards : [.. state.Shards, state.Gpu];
            foreach (var shard in expected)
            {
                foreach (var row in rows)
                {
                    if (row.RowKey == shard.Id && row.BaseUrl == shard.Url && row.State == ShardStates.Active)
                    {
                        registered++;
                        break;
                    }
                }
            }

            if (registered == expected.Count)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the shards did not register in Table shards within 90 s");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task CreateDemoAsync(LocalClusterState state, LocalClusterState? previous, StorageClients storage, CancellationToken cancellationToken)
    {
        using var cache = new MemoryCache(new MemoryCacheOptions());
        var tenants = new TenantStore(storage, cache, TimeProvider.System);
        // Keep the demo key across restarts when storage persisted it; else make a new one.
        string? key = null;
        foreach (var tenant in previous?.Tenants ?? [])
        {
            if (tenant.Name == DemoTenant && await tenants.AuthenticateAsync(tenant.ApiKey, cancellationToken).ConfigureAwait(false) is not null)
            {
                key = tenant.ApiKey;
            }
        }

        key ??= await tenants.AddKeyAsync(DemoTenant, null, cancellationToken).ConfigureAwait(false);
        state.Tenants.Add(new TenantKey(DemoTenant, key));
        _state.Write(state);

        _log($"Publishing the demo model '{DemoModel}' through the blob drop…");
        using var dropEvents = DropEventNotifier.For(state);
        var publisher = new DropPublisher(storage, new ModelRegistry(storage, cache, TimeProvider.System), dropEvents);
        var outcome = await publisher.PublishAsync(DemoTenant, DemoModel, "1", DemoModels.Linear(), TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        if (outcome.State != ModelStates.Ready)
        {
            throw new InvalidOperationException($"the demo model was not published: {outcome.State} {outcome.Error}");
        }
    }
}
