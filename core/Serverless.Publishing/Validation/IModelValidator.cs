namespace Serverless.Publishing;

/// <summary>Checks a dropped model file and opens it with ONNX Runtime, as the publisher must before storing it.</summary>
public interface IModelValidator
{
    ValueTask<ModelValidationResult> ValidateAsync(byte[] model, string name, string version, CancellationToken cancellationToken);
}
