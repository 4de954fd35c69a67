namespace Serverless.Core.Protocol;

/// <summary>
/// Direct mode: where a model version is served, primary first, so a client library can call a replica
/// itself and skip the router hop. <see cref="Reason"/> says why these shards.
/// </summary>
public sealed record PlacementResponse(string Name, string Version, string Pool, IReadOnlyList<PlacementReplica> Replicas, string Reason);
