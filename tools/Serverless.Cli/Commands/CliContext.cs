using Microsoft.Extensions.DependencyInjection;
using Serverless.Cli.Cluster;
using Serverless.Core.Placement;
using Serverless.Core.Registry;
using Serverless.Core.Storage;
using Serverless.Publishing;

namespace Serverless.Cli.Commands;

/// <summary>What the commands that talk to a running cluster share: its state and the core services.</summary>
internal sealed class CliContext : IDisposable
{
    private readonly ServiceProvider _services;

    private CliContext(LocalClusterState state)
    {
        State = state;
        _services = CliServices.Create(state.Storage, state.InternalKey);
    }

    public LocalClusterState State { get; }

    public StorageClients Storage => _services.GetRequiredService<StorageClients>();

    public ModelRegistry Registry => _services.GetRequiredService<ModelRegistry>();

    public ModelLifecycle Lifecycle => _services.GetRequiredService<ModelLifecycle>();

    public AuditLog Audit => _services.GetRequiredService<AuditLog>();

    public RegistryCheck Check => _services.GetRequiredService<RegistryCheck>();

    public PlacementStore Placements => _services.GetRequiredService<PlacementStore>();

    public IServiceProvider Services => _services;

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

        return new CliContext(state);
    }

    /// <summary>The tenant a command acts for: the one named, else the first of local.json (demo).</summary>
    public string DefaultTenant(string? named) => named ?? (State.Tenants.Count > 0 ? State.Tenants[0].Name : LocalCluster.DemoTenant);

    public void Dispose() => _services.Dispose();
}
