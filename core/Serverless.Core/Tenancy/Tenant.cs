namespace Serverless.Core.Tenancy;

/// <summary>An authenticated tenant.</summary>
public sealed record Tenant(string Name, int ShuffleShardSize);
