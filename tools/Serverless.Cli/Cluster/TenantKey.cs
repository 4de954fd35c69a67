namespace Serverless.Cli.Cluster;

/// <summary>A tenant and its API key, as <c>local.json</c> records them for the local cluster.</summary>
public sealed record TenantKey(string Name, string ApiKey);
