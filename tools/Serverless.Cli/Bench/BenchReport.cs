namespace Serverless.Cli.Bench;

/// <summary>Everything one bench run measured, as the JSON report holds it.</summary>
internal sealed class BenchReport
{
    public MachineInfo Machine { get; set; } = MachineInfo.Current();

    public string Command { get; set; } = "";

    /// <summary>Which cluster the cluster scenarios ran against.</summary>
    public string? Cluster { get; set; }

    public DateTime StartedUtc { get; set; }

    public double Seconds { get; set; }

    public List<ScenarioResult> Results { get; } = [];

    public List<TargetVerdict> Targets { get; } = [];
}
