namespace Serverless.Core.Registry;

/// <summary>The states of a model version in the registry.</summary>
public static class ModelStates
{
    public const string Ready = "Ready";
    public const string Rejected = "Rejected";
    public const string Retired = "Retired";
}
