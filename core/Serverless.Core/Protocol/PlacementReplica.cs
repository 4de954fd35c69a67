namespace Serverless.Core.Protocol;

/// <summary>One replica in a <see cref="PlacementResponse"/>.</summary>
public sealed record PlacementReplica(string Id, string Url);
