namespace Serverless.Onnx;

/// <summary>
/// A tensor whose size is known before ONNX Runtime opens the model: an initializer, a <c>Constant</c>, or the output
/// of a node ORT would compute from constants at load (constant folding).
/// </summary>
/// <param name="Elements">Its element count (saturating at <see cref="long.MaxValue"/>).</param>
/// <param name="ElementBytes">Bytes per element of its type (4 when the type is not known here).</param>
/// <param name="Values">Its values when it is a small int64 tensor (a possible shape), else null.</param>
internal readonly record struct KnownTensor(long Elements, int ElementBytes, long[]? Values);
