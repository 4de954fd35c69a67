namespace Serverless.Cli.Simulation;

/// <summary>How long one phase of the simulation took.</summary>
internal sealed record PhaseTiming(string Phase, double Seconds);
