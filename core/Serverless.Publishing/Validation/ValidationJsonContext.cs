using System.Text.Json.Serialization;

namespace Serverless.Publishing;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ModelValidationResult))]
internal sealed partial class ValidationJsonContext : JsonSerializerContext;
