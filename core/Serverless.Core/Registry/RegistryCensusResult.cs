using Serverless.Core.Observability;

namespace Serverless.Core.Registry;

/// <summary>
/// A census pass's answer: the totals, the newest publishes (at most <see cref="RegistryCensusOptions.RecentPublishes"/>)
/// and how many versions were published in the lookback in all (<see cref="PublishedInLookback"/>), so the page can say
/// "and 99,880 more".
/// </summary>
public sealed record RegistryCensusResult(RegistryTotals Totals, IReadOnlyList<PublishRow> Recent, long PublishedInLookback);
