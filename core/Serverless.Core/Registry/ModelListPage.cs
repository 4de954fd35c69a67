namespace Serverless.Core.Registry;

/// <summary>
/// A page of <see cref="ModelListing"/>: its rows in key order (tenant, model, then version as text), how many match
/// past it (<see cref="More"/>, a lower bound when <see cref="MoreIsLowerBound"/>: counting stopped at the cap) and,
/// when there are more, the cursor of the next page.
/// </summary>
public sealed record ModelListPage(IReadOnlyList<ModelVersionEntity> Rows, long More, bool MoreIsLowerBound, ModelListCursor? Next);
