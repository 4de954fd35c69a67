using System.Text.Encodings.Web;
using System.Text.Json;

namespace Serverless.Core.Protocol;

/// <summary>Serializes the protocol's small bodies to UTF-8 with the source-generated context.</summary>
public static class JsonBodies
{
    // Messages quote names ('x'); the default encoder would write \u0027. These bodies are JSON for
    // API clients, never embedded in HTML, so the relaxed encoder is right.
    private static readonly CoreJsonContext Context = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>
    /// The message of an error answer another part of the platform wrote (<c>{"error": "..."}</c>); the body as text
    /// (at most 1,000 characters) when it is not that form, so nothing a shard said is lost.
    /// </summary>
    public static string ReadError(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isError = reader.ValueTextEquals("error"u8);
                    if (!reader.Read())
                    {
                        break;
                    }

                    if (isError && reader.TokenType == JsonTokenType.String)
                    {
                        return reader.GetString() ?? "";
                    }

                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: the text below.
        }

        var text = System.Text.Encoding.UTF8.GetString(body.Length > 1000 ? body[..1000] : body);
        return text.Length == 0 ? "(no message)" : text;
    }

    public static byte[] Error(string message) => JsonSerializer.SerializeToUtf8Bytes(new ErrorResponse(message), Context.ErrorResponse);

    public static byte[] Metadata(ModelMetadataResponse metadata) => JsonSerializer.SerializeToUtf8Bytes(metadata, Context.ModelMetadataResponse);

    public static byte[] ModelReady(ModelReadyResponse ready) => JsonSerializer.SerializeToUtf8Bytes(ready, Context.ModelReadyResponse);

    public static byte[] Placement(PlacementResponse placement) => JsonSerializer.SerializeToUtf8Bytes(placement, Context.PlacementResponse);

    public static byte[] Health(HealthResponse health) => JsonSerializer.SerializeToUtf8Bytes(health, Context.HealthResponse);
}
