using Serverless.Core.Registry;
namespace Serverless.Publishing;

/// <summary>What moving an alias did: the version it pointed at before, and the warm-up on each replica.</summary>
public sealed record AliasMove(string Alias, string? PreviousVersion, string Version, IReadOnlyList<string> Warmed);
