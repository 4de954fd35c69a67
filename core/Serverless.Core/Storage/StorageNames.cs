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
}
