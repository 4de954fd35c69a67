namespace Serverless.Core.Observability;

/// <summary>
/// The registry in figures, from the last completed census pass (<see cref="Registry.RegistryCensus"/>): models and
/// version states in all and for the <see cref="Tenants"/> with most models (<see cref="MoreTenants"/> others not
/// listed). Exact as of <see cref="CountedAt"/> unless <see cref="Capped"/>: then the pass stopped after
/// <see cref="RowsRead"/> rows in key order and every figure counts only those (a lower bound, biased to the tenants and
/// models first in key order). Null <see cref="CountedAt"/>: the first pass has not finished yet.
/// </summary>
public sealed record RegistryTotals(
    DateTimeOffset? CountedAt,
    double PassSeconds,
    long RowsRead,
    bool Capped,
    long Models,
    long Versions,
    long Ready,
    long Rejected,
    long Retired,
    IReadOnlyList<TenantRegistryTotal> Tenants,
    long MoreTenants);
