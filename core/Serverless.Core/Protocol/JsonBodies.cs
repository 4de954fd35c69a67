using System.Text.Json;

namespace Serverless.Core.Protocol;

/// <summary>Serializes the protocol's small bodies to UTF-8 with the source-generated context.</summary>
public static class JsonBodies
{
    public static byte[] Error(string message) => JsonSerializer.SerializeToUtf8Bytes(new ErrorResponse(message), CoreJsonContext.Default.ErrorResponse);

    public static byte[] Metadata(ModelMetadataResponse metadata) => JsonSerializer.SerializeToUtf8Bytes(metadata, CoreJsonContext.Default.ModelMetadataResponse);

    public static byte[] ModelReady(ModelReadyResponse ready) => JsonSerializer.SerializeToUtf8Bytes(ready, CoreJsonContext.Default.ModelReadyResponse);

    public static byte[] Health(HealthResponse health) => JsonSerializer.SerializeToUtf8Bytes(health, CoreJsonContext.Default.HealthResponse);
}
