using System.Text.Json.Serialization;

namespace Serverless.Cli.Cluster;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LocalClusterState))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
