using System.Text.Json.Serialization;

namespace Serverless.LocalHost;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HostStatus))]
internal sealed partial class HostJsonContext : JsonSerializerContext;
