namespace Serverless.Cli.Bench;

/// <summary>
/// What a load phase sends: one pre-encoded body to one of <see cref="Uris"/> (the first, or the one
/// <see cref="Pick"/> draws), with the API key header. Nothing is encoded per request.
/// </summary>
internal sealed class LoadTarget
{
    public LoadTarget(IReadOnlyList<Uri> uris, byte[] body, string? apiKey, Func<Random, int>? pick = null)
    {
        ArgumentNullException.ThrowIfNull(uris);
        ArgumentOutOfRangeException.ThrowIfZero(uris.Count);
        Uris = uris;
        Body = body;
        ApiKey = apiKey;
        Pick = pick;
    }

    public IReadOnlyList<Uri> Uris { get; }

    public byte[] Body { get; }

    public string? ApiKey { get; }

    /// <summary>Draws the index of the URI of the next request; null = always the first.</summary>
    public Func<Random, int>? Pick { get; }

    public Uri Next(Random random) => Pick is null ? Uris[0] : Uris[Pick(random)];
}
