namespace Serverless.Cli.Publishing;

/// <summary>One model file to publish: where it is, the model name it gets, and its model.json if any.</summary>
public sealed record PublishItem(string Path, string Model, string? ManifestPath);
