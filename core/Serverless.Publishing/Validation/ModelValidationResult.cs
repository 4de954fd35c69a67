using Serverless.Core.Registry;

namespace Serverless.Publishing;

/// <summary>What validating one model file found: null <see cref="Error"/> and its tensors when it can be served, else why not.</summary>
public sealed record ModelValidationResult(string? Error, TensorMetadata[] Inputs, TensorMetadata[] Outputs)
{
    public static ModelValidationResult Refused(string reason) => new(reason, [], []);
}
