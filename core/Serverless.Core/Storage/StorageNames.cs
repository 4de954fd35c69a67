namespace Serverless.Core.Storage;

/// <summary>The containers and tables of the storage layout in DESIGN.md.</summary>
public static class StorageNames
{
    public const string ModelsContainer = "models";
    public const string DropContainer = "model-drop";
    public const string ModelsTable = "models";
    public const string PlacementsTable = "placements";
    public const string ShardsTable = "shards";
    public const string TenantsTable = "tenants";

    /// <summary>One row per tenant whose value changes on every change to that tenant's registry rows (<see cref="Registry.RegistryEpochs"/>).</summary>
    public const string RegistryEpochsTable = "registryepochs";

    /// <summary>
    /// Per tenant, the model names its registry changes touched, a row per epoch bump that carried any (<see cref="Registry.RegistryNameFeed"/>):
    /// routers and shards add them to the tenant's set of names instead of reading all its rows again.
    /// </summary>
    public const string RegistryNamesTable = "registrynames";

    /// <summary>Who changed the lifecycle of which model when, and what fsck repaired (<c>serverless audit</c>).</summary>
    public const string AuditTable = "audit";

    /// <summary>
    /// Every blob container the platform's code opens: the local cluster creates exactly these
    /// (<see cref="StorageClients.EnsureCreatedAsync"/>) and infra/core/storage.bicep must too (an infra test checks both).
    /// </summary>
    public static IReadOnlyList<string> Containers { get; } = [ModelsContainer, DropContainer];

    /// <summary>Every table the platform's code opens, created as <see cref="Containers"/> are.</summary>
    public static IReadOnlyList<string> Tables { get; } = [ModelsTable, PlacementsTable, ShardsTable, TenantsTable, RegistryEpochsTable, RegistryNamesTable, AuditTable];
}
