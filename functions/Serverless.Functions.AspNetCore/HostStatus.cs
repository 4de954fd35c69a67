namespace Serverless.Functions.AspNetCore;

/// <summary>The local host's own status answer, at <c>/admin/host/status</c> (as the Functions host has).</summary>
internal sealed record HostStatus(string App, string State);
