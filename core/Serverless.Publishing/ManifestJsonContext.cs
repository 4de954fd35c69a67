using System.Text.Json.Serialization;

namespace Serverless.Publishing;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(ModelManifest))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
