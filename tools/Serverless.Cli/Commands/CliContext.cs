using Microsoft.Extensions.Caching.Memory;
using Serverless.Cli.Cluster;
using Serverless.Core.Registry;
using Serverless.Core.Storage;

namespace Serverless.Cli.Commands;

/// <summary>What the commands that talk to a running cluster share: its state and storage clients.</summary>
internal sealed class CliContext : IDisposable
{
    private CliContext(LocalClusterState state, StorageClients storage)
    {
        State = state;
        Storage = storage;
        Cache = new MemoryCache(new MemoryCacheOptions());
        Registry = new ModelRegistry(storage, Cache);
    }

    public LocalClusterState State { get; }

    public StorageClients Storage { get; }

    public MemoryCache Cache { get; }

    public ModelRegistry Registry { get; }

    /// <summary>The running cluster's context, or null after printing why there is none.</summary>
    public static CliContext? Open()
    {
        var directory = StateDirectory.Default();
        var state = directory.Read();
        if (state is null || string.IsNullOrEmpty(state.Storage))
        {
            Console.Error.WriteLine($"error: no local cluster found ({directory.StateFile} is missing): run `tools/serverless up` first");
            return null;
        }

        return new CliContext(state, LocalCluster.CreateStorage(state.Storage));
    }

    /// <summary>The tenant a command acts for: the one named, else the first of local.json (demo).</summary>
    public string DefaultTenant(string? named) => named ?? (State.Tenants.Count > 0 ? State.Tenants[0].Name : LocalCluster.DemoTenant);

    public void Dispose() => Cache.Dispose();
}
