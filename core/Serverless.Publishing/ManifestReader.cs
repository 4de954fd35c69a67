using System.Text.Json;
using Serverless.Core.Naming;
using Serverless.Core.Registry;

namespace Serverless.Publishing;

/// <summary>Parses and checks <c>model.json</c>; every problem is a message naming it.</summary>
public static class ManifestReader
{
    public const int MaxBytes = 64 * 1024;

    /// <summary>The manifest, or the reason it is refused.</summary>
    public static (ModelManifest? Manifest, string? Error) Parse(ReadOnlySpan<byte> json)
    {
        if (json.Length == 0)
        {
            return (null, "model.json is empty: remove it, or write a JSON object such as {\"description\": \"…\"}");
        }

        if (json.Length > MaxBytes)
        {
            return (null, $"model.json is {json.Length} bytes, over the limit of {MaxBytes}");
        }

        ModelManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(json, ManifestJsonContext.Default.ModelManifest);
        }
        catch (JsonException e)
        {
            return (null, $"model.json is not valid: {e.Message}");
        }

        if (manifest is null)
        {
            return (null, "model.json must be a JSON object, not null");
        }

        foreach (var alias in manifest.Aliases ?? [])
        {
            if (ModelAliases.Check(alias) is { } aliasError)
            {
                return (null, $"model.json: {aliasError}");
            }
        }

        if (manifest.MaxBatch is < 1)
        {
            return (null, $"model.json: maxBatch must be at least 1 (got {manifest.MaxBatch})");
        }

        if (manifest.MaxOutputBytes is < 1024)
        {
            return (null, $"model.json: maxOutputBytes must be at least 1024 (got {manifest.MaxOutputBytes})");
        }

        if (manifest.DynamicBatching is { } batching && (batching.MaxQueueDelayUs is < 1 or > 1_000_000 || batching.PreferredBatchSize < 1))
        {
            return (null, "model.json: dynamicBatching needs maxQueueDelayUs between 1 and 1000000 and preferredBatchSize of at least 1");
        }

        if (manifest.Description is { Length: > 4096 })
        {
            return (null, "model.json: description is over 4096 characters");
        }

        return (manifest, null);
    }

    /// <summary>Checks the manifest against the model's real inputs; null when it fits.</summary>
    public static string? CheckInputs(ModelManifest manifest, TensorMetadata[] inputs)
    {
        foreach (var name in manifest.Inputs?.Keys ?? (IEnumerable<string>)[])
        {
            if (Array.FindIndex(inputs, i => i.Name == name) < 0)
            {
                return $"model.json describes input '{name}', which the model does not have; its inputs are: {string.Join(", ", inputs.Select(i => i.Name))}";
            }
        }

        return null;
    }
}
