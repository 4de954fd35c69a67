namespace Serverless.Core.Protocol;

/// <summary>The v2 model readiness answer.</summary>
public sealed record ModelReadyResponse(string Name, string Version, bool Ready);
