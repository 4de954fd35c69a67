namespace Serverless.Core.Tenancy;

/// <summary>Defaults of DESIGN.md's placement: k = 2 shards per tenant, R = 1 replica per model.</summary>
public static class PlacementDefaults
{
    public const int ShuffleShardSize = 2;
    public const int Replicas = 1;
}
