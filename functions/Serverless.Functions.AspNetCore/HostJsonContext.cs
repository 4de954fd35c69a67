using System.Text.Json.Serialization;

namespace Serverless.Functions.AspNetCore;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HostStatus))]
internal sealed partial class HostJsonContext : JsonSerializerContext;
