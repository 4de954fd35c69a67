namespace Serverless.Core.Observability;

/// <summary>One tenant's models and version states in the registry (<see cref="RegistryTotals"/>).</summary>
public sealed record TenantRegistryTotal(string Tenant, long Models, long Ready, long Rejected, long Retired);
