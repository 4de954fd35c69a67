using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Serverless.Core.Registry;

namespace Serverless.Scoring;

/// <summary>An input or output of a loaded session; -1 marks a dynamic or symbolic dimension.</summary>
public sealed record SessionTensor(string Name, OnnxValueType ValueType, TensorElementType ElementType, long[] Shape)
{
    /// <summary>The datatype name of a sequence-of-maps output (scikit-learn's ZipMap), answered as JSON objects.</summary>
    public const string MapDatatype = "MAP";

    public string Datatype => ValueType == OnnxValueType.ONNX_TYPE_TENSOR
        ? TensorDatatypes.ToDatatype(ElementType) ?? ElementType.ToString().ToUpperInvariant()
        : ValueType switch
        {
            OnnxValueType.ONNX_TYPE_SEQUENCE => MapDatatype,
            OnnxValueType.ONNX_TYPE_MAP => "MAP",
            _ => ValueType.ToString(),
        };

    public TensorMetadata ToMetadata() => new(Name, Datatype, Shape);
}
