namespace Serverless.Core.Tenancy;

/// <summary>An authenticated tenant.</summary>
/// <param name="RequestsPerSecond">The tenant's request quota at the router; 0 = the platform default.</param>
public sealed record Tenant(string Name, int ShuffleShardSize, int RequestsPerSecond = 0);
