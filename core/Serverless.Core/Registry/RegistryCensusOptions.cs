using System.ComponentModel.DataAnnotations;

namespace Serverless.Core.Registry;

/// <summary>Bounds of the dashboard's registry census (section <c>Dashboard</c>): what one pass may read and how often.</summary>
public sealed class RegistryCensusOptions
{
    public const string SectionName = "Dashboard";

    /// <summary>
    /// Rows one pass reads at most; past it the figures are marked capped (a lower bound). 250,000 rows of keys and
    /// two properties are about 250 Table reads and tens of MB streamed, never held: memory is per tenant, not per row.
    /// </summary>
    [Range(1_000, 100_000_000)]
    public int MaxRowsPerPass { get; set; } = 250_000;

    /// <summary>The least time between passes: a small registry's figures are this fresh.</summary>
    [Range(1, 3_600)]
    public int MinIntervalSeconds { get; set; } = 5;

    /// <summary>
    /// A pass starts again only after this many times its last duration has passed: a registry that takes 6 s to count
    /// is counted at most once a minute, so the census is at most a tenth of one storage reader's time.
    /// </summary>
    [Range(1, 1_000)]
    public int IdleFactor { get; set; } = 10;

    /// <summary>How long a dashboard request waits for the very first pass before answering without figures.</summary>
    [Range(0, 60_000)]
    public int FirstPassWaitMilliseconds { get; set; } = 2_000;

    /// <summary>Tenants listed by name (the ones with most models); the rest are a count.</summary>
    [Range(1, 1_000)]
    public int TopTenants { get; set; } = 20;

    /// <summary>Recent publishes listed (the newest); the rest in the lookback are a count.</summary>
    [Range(1, 1_000)]
    public int RecentPublishes { get; set; } = 15;

    /// <summary>How far back a publish counts as recent.</summary>
    [Range(1, 365)]
    public int PublishLookbackDays { get; set; } = 7;
}
