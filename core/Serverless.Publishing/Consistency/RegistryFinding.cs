namespace Serverless.Publishing;

/// <summary>One inconsistency <see cref="RegistryCheck"/> found, and what <c>--repair</c> did about it.</summary>
/// <param name="Kind">What is wrong.</param>
/// <param name="Subject">What it is about: <c>tenant/model/version</c>, <c>tenant/model@alias</c>, or a blob name.</param>
/// <param name="Detail">What was seen, in words.</param>
/// <param name="Repair">What the repair did, or why it could not; null when no repair was asked for.</param>
/// <param name="Repaired">Whether the repair fixed it.</param>
public sealed record RegistryFinding(RegistryFindingKind Kind, string Subject, string Detail, string? Repair, bool Repaired);
