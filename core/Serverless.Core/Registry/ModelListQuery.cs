namespace Serverless.Core.Registry;

/// <summary>
/// What <see cref="ModelListing.ListAsync"/> reads: the version rows (never aliases) of one tenant or of all, of models
/// whose name starts with <see cref="Prefix"/> (a key range, so it needs <see cref="Tenant"/>), in one state or any,
/// at most <see cref="Limit"/> of them, after <see cref="After"/>.
/// </summary>
public sealed record ModelListQuery
{
    /// <summary>The most rows one page may have: storage's own page size, so a page is one read.</summary>
    public const int MaxLimit = 1_000;

    public const int DefaultLimit = 100;

    /// <summary>The rows past the page counted at most (keys only): beyond it, "more than" this.</summary>
    public const int DefaultCountCap = 10_000;

    public string? Tenant { get; init; }

    public string? Prefix { get; init; }

    /// <summary>One of <see cref="ModelStates"/>, or null for any.</summary>
    public string? State { get; init; }

    public int Limit { get; init; } = DefaultLimit;

    public ModelListCursor? After { get; init; }

    /// <summary>How many rows past the page to count at most; 0 counts none (only whether there are any).</summary>
    public int CountCap { get; init; } = DefaultCountCap;
}
