namespace Serverless.Cli.Cluster;

/// <summary>One process the cluster started: its id (shard id, "router", …), URL and process id.</summary>
public sealed record ProcessEntry(string Id, string Url, int Pid);
