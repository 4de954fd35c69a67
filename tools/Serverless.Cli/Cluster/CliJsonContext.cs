using System.Text.Json.Serialization;

namespace Serverless.Cli.Cluster;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LocalClusterState))]
[JsonSerializable(typeof(Serverless.Cli.Bench.AttackReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
