using System.Text.Json;
using System.Text.Json.Nodes;

namespace Serverless.Cli.Publishing;

/// <summary>Small edits to a model.json before it is dropped.</summary>
public static class ManifestFile
{
    /// <summary>The manifest with <c>"gpu": true</c> (a new one when there is none); a file that is not a JSON object is left as it is, for the publisher to refuse with the reason.</summary>
    public static byte[] WithGpu(byte[]? manifest)
    {
        JsonObject root;
        try
        {
            if (manifest is { Length: 0 })
            {
                return manifest;
            }

            root = manifest is null ? [] : JsonNode.Parse(manifest, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject ?? throw new JsonException();
        }
        catch (JsonException)
        {
            return manifest!;
        }

        root["gpu"] = true;
        return JsonSerializer.SerializeToUtf8Bytes(root);
    }
}
