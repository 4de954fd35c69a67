using Serverless.Scoring;

namespace Serverless.Publishing;

/// <summary>
/// Validation in the publisher's own process (<see cref="PublisherOptions.ValidatorProcesses"/> = 0): a model that
/// crashes ONNX Runtime or takes the memory takes the publisher with it. For development and for hosts that may not
/// start processes; <see cref="ModelValidatorPool"/> is the default.
/// </summary>
public sealed class InProcessModelValidator : IModelValidator
{
    private readonly OrtRuntime _runtime;

    public InProcessModelValidator(OrtRuntime runtime) => _runtime = runtime;

    public ValueTask<ModelValidationResult> ValidateAsync(byte[] model, string name, string version, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ModelCheck.Run(model, name, version, _runtime));
}
