using Serverless.Core.Registry;

namespace Serverless.Core.Protocol;

/// <summary>The v2 model metadata answer.</summary>
public sealed record ModelMetadataResponse(string Name, IReadOnlyList<string> Versions, string Platform, TensorMetadata[] Inputs, TensorMetadata[] Outputs)
{
    public const string OnnxPlatform = "onnxruntime_onnx";
}
