using Microsoft.ML.OnnxRuntime;
using Serverless.Onnx;
using Serverless.Scoring;

namespace Serverless.Publishing;

/// <summary>
/// The checks a model file must pass, in the process that runs them (a validator child, or the publisher itself
/// when <see cref="PublisherOptions.ValidatorProcesses"/> is 0): the streaming reader first, then an ONNX Runtime
/// session, whose inputs and outputs become the registry row's.
/// </summary>
public static class ModelCheck
{
    public static ModelValidationResult Run(byte[] bytes, string model, string version, OrtRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(runtime);
        if (bytes.Length == 0)
        {
            return ModelValidationResult.Refused("model file is empty");
        }

        // One pass over the protobuf for every check that must come before ONNX Runtime opens the file. Bytes the
        // reader cannot parse are refused here too: ORT's parser would refuse them as well, and a model the checks
        // could not read must not reach ORT unchecked.
        var findings = OnnxModelReader.Read(bytes);
        if ((findings.ExternalData ?? findings.Unbounded) is { } refusal)
        {
            return ModelValidationResult.Refused(refusal);
        }

        if (findings.Malformed is { } malformed)
        {
            return ModelValidationResult.Refused($"not a loadable ONNX model: {malformed}");
        }

        ModelSession probe;
        try
        {
            probe = new ModelSession(model, version, runtime.CreateSession(bytes), bytes.LongLength);
        }
        catch (OnnxRuntimeException e)
        {
            // ORT names the unknown operator, the unsupported opset or the parse failure.
            return ModelValidationResult.Refused($"not a loadable ONNX model: {e.Message}");
        }

        try
        {
            return new ModelValidationResult(null, ModelSession.ToMetadata(probe.Inputs), ModelSession.ToMetadata(probe.Outputs));
        }
        finally
        {
            probe.Release();
        }
    }
}
