namespace Serverless.Core.Registry;

/// <summary>
/// One input or output of a model as the v2 protocol describes it: name, datatype (FP32, INT64, …)
/// and shape, with -1 for a dynamic or symbolic dimension.
/// </summary>
public sealed record TensorMetadata(string Name, string Datatype, long[] Shape, string? Description = null);
