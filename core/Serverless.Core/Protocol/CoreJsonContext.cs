using System.Text.Json.Serialization;
using Serverless.Core.Registry;

namespace Serverless.Core.Protocol;

/// <summary>Source-generated JSON for every body the platform writes or reads outside the tensor codec.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(ModelMetadataResponse))]
[JsonSerializable(typeof(ModelReadyResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(PlacementResponse))]
[JsonSerializable(typeof(TensorMetadata[]))]
public sealed partial class CoreJsonContext : JsonSerializerContext;
