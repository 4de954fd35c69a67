using Serverless.Core.Registry;

namespace Serverless.Core.Protocol;

/// <summary>The v2 model metadata answer.</summary>
public sealed record ModelMetadataResponse(string Name, IReadOnlyList<string> Versions, string Platform, TensorMetadata[] Inputs, TensorMetadata[] Outputs)
{
    /// <summary>Answered by a shard: the ONNX Runtime execution provider it runs the model on (CPU, CUDA).</summary>
    public string? ExecutionProvider { get; init; }

    public const string OnnxPlatform = "onnxruntime_onnx";
}
