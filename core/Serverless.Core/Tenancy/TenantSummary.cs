namespace Serverless.Core.Tenancy;

/// <summary>What may be shown about a tenant: never its keys or their hashes.</summary>
/// <param name="RequestsPerSecond">The tenant's request quota at the router; 0 = the platform default.</param>
public sealed record TenantSummary(string Name, int ShuffleShardSize, int RequestsPerSecond, int KeyCount);
