using Microsoft.ML.OnnxRuntime.Tensors;

namespace Serverless.Scoring;

/// <summary>
/// One decoded input of an inference request: its data is a typed array (float[], long[], string[], …)
/// that an <see cref="Microsoft.ML.OnnxRuntime.OrtValue"/> can wrap without a copy.
/// </summary>
public sealed class InputTensor
{
    public InputTensor(string name, TensorElementType elementType, long[] shape, Array data)
    {
        Name = name;
        ElementType = elementType;
        Shape = shape;
        Data = data;
    }

    public string Name { get; }

    public TensorElementType ElementType { get; }

    public long[] Shape { get; }

    public Array Data { get; }
}
