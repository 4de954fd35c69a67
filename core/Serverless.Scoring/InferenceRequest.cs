namespace Serverless.Scoring;

/// <summary>A decoded v2 inference request.</summary>
public sealed class InferenceRequest
{
    public InferenceRequest(string? id, List<InputTensor> inputs, List<string>? requestedOutputs)
    {
        Id = id;
        Inputs = inputs;
        RequestedOutputs = requestedOutputs;
    }

    public string? Id { get; }

    public List<InputTensor> Inputs { get; }

    /// <summary>The names in the request's <c>outputs</c> list, or null for all outputs.</summary>
    public List<string>? RequestedOutputs { get; }
}
