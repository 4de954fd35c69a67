using Microsoft.ML.OnnxRuntime.Tensors;

namespace Serverless.Scoring;

/// <summary>Maps the v2 protocol's datatype names to ONNX Runtime element types and back.</summary>
public static class TensorDatatypes
{
    public static bool TryParse(string? datatype, out TensorElementType type)
    {
        type = datatype switch
        {
            "BOOL" => TensorElementType.Bool,
            "INT8" => TensorElementType.Int8,
            "INT16" => TensorElementType.Int16,
            "INT32" => TensorElementType.Int32,
            "INT64" => TensorElementType.Int64,
            "UINT8" => TensorElementType.UInt8,
            "UINT16" => TensorElementType.UInt16,
            "UINT32" => TensorElementType.UInt32,
            "UINT64" => TensorElementType.UInt64,
            "FP16" => TensorElementType.Float16,
            "FP32" => TensorElementType.Float,
            "FP64" => TensorElementType.Double,
            "BYTES" => TensorElementType.String,
            _ => TensorElementType.DataTypeMax,
        };
        return type != TensorElementType.DataTypeMax;
    }

    /// <summary>The v2 name of an element type, or null when the protocol has none (e.g. BFLOAT16).</summary>
    public static string? ToDatatype(TensorElementType type) => type switch
    {
        TensorElementType.Bool => "BOOL",
        TensorElementType.Int8 => "INT8",
        TensorElementType.Int16 => "INT16",
        TensorElementType.Int32 => "INT32",
        TensorElementType.Int64 => "INT64",
        TensorElementType.UInt8 => "UINT8",
        TensorElementType.UInt16 => "UINT16",
        TensorElementType.UInt32 => "UINT32",
        TensorElementType.UInt64 => "UINT64",
        TensorElementType.Float16 => "FP16",
        TensorElementType.Float => "FP32",
        TensorElementType.Double => "FP64",
        TensorElementType.String => "BYTES",
        _ => null,
    };

    public const string Supported = "BOOL, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, FP16, FP32, FP64, BYTES";
}
