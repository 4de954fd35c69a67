using Serverless.Core.Registry;

namespace Serverless.Publishing;

/// <summary>The verdict on one dropped model: its registry row (Ready or Rejected, with the reason).</summary>
public sealed record PublishOutcome(string State, string Error, ModelVersionEntity? Row)
{
    public bool IsReady => State == ModelStates.Ready;
}
