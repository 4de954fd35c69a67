namespace Serverless.Cli.Cluster;

/// <summary>A started Azurite: its blob and table service processes and the connection string that reaches both.</summary>
public sealed record AzuriteProcesses(int BlobPid, int TablePid, string ConnectionString, int BlobPort)
{
    /// <summary>Kills both processes (tests' cleanup; a cluster stops them gracefully instead).</summary>
    public void Kill()
    {
        ChildProcesses.Kill(BlobPid);
        ChildProcesses.Kill(TablePid);
    }
}
