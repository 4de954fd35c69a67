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
}
