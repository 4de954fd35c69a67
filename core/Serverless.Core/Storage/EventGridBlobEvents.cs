using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Azure.Storage.Blobs;

namespace Serverless.Core.Storage;

/// <summary>
/// Event Grid's blob-storage events in the Event Grid schema, as Azure delivers them to the Functions host's
/// blob-extension webhook (<c>/runtime/webhooks/blobs?functionName=Host.Functions.{name}</c>), which is how the
/// publisher's <c>BlobTriggerSource.EventGrid</c> trigger hears of a drop. Locally nothing emits them
/// (Azurite has no Event Grid), so the CLI sends the same event after it drops a model, and the local host
/// takes it at the same path: a drop is published without listing the container.
/// </summary>
public static class EventGridBlobEvents
{
    public const string BlobCreatedType = "Microsoft.Storage.BlobCreated";
    public const string SubscriptionValidationType = "Microsoft.EventGrid.SubscriptionValidationEvent";

    /// <summary>The webhook path, relative to the function app's root.</summary>
    public const string WebhookPath = "runtime/webhooks/blobs";

    /// <summary>The value of the webhook's <c>functionName</c> query parameter for a function.</summary>
    public static string FunctionNameParameter(string function) => "Host.Functions." + function;

    /// <summary>The Event Grid schema body (an array of one event) announcing that <paramref name="blobUrl"/> was written.</summary>
    public static byte[] BlobCreated(Uri blobUrl, string? eTag, long contentLength, DateTimeOffset eventTime)
    {
        ArgumentNullException.ThrowIfNull(blobUrl);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            // The container and blob name, as Event Grid puts them in the subject (the SDK's parser knows Azurite's
            // path-style URLs as well as Azure's).
            var names = new BlobUriBuilder(blobUrl);
            writer.WriteStartArray();
            writer.WriteStartObject();
            writer.WriteString("id", Guid.NewGuid().ToString());
            writer.WriteString("subject", $"/blobServices/default/containers/{names.BlobContainerName}/blobs/{names.BlobName}");
            writer.WriteString("eventType", BlobCreatedType);
            writer.WriteString("eventTime", eventTime.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteStartObject("data");
            writer.WriteString("api", "PutBlob");
            if (eTag is not null)
            {
                writer.WriteString("eTag", eTag);
            }

            writer.WriteString("contentType", "application/octet-stream");
            writer.WriteNumber("contentLength", contentLength);
            writer.WriteString("blobType", "BlockBlob");
            writer.WriteString("url", blobUrl.AbsoluteUri);
            writer.WriteEndObject();
            writer.WriteString("dataVersion", "");
            writer.WriteString("metadataVersion", "1");
            writer.WriteEndObject();
            writer.WriteEndArray();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The webhook's answer to the subscription validation handshake: the code echoed.</summary>
    public static byte[] ValidationResponse(string validationCode)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("validationResponse", validationCode);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads a delivery. Returns false with <paramref name="error"/> naming what is wrong when the body is not an
    /// Event Grid schema array, or a blob-created event has no absolute <c>data.url</c>.
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> body, out EventGridDelivery? delivery, out string? error)
    {
        delivery = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            error = $"the body is not JSON: {e.Message}";
            return false;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                // Event Grid posts arrays; one event on its own is accepted as well.
                return TryParseEvents([root], out delivery, out error);
            }

            if (root.ValueKind != JsonValueKind.Array)
            {
                error = $"the body must be a JSON array of Event Grid events (Event Grid schema); got a {root.ValueKind.ToString().ToLowerInvariant()}";
                return false;
            }

            var events = new List<JsonElement>(root.GetArrayLength());
            foreach (var item in root.EnumerateArray())
            {
                events.Add(item);
            }

            return TryParseEvents(events, out delivery, out error);
        }
    }

    private static bool TryParseEvents(List<JsonElement> events, out EventGridDelivery? delivery, out string? error)
    {
        delivery = null;
        string? validationCode = null;
        var created = new List<BlobCreatedEvent>();
        var others = 0;
        for (var i = 0; i < events.Count; i++)
        {
            var item = events[i];
            if (item.ValueKind != JsonValueKind.Object)
            {
                error = $"event {i}: must be a JSON object, got a {item.ValueKind.ToString().ToLowerInvariant()}";
                return false;
            }

            if (!item.TryGetProperty("eventType", out var type) || type.ValueKind != JsonValueKind.String)
            {
                error = $"event {i}: 'eventType' (a string) is missing";
                return false;
            }

            var data = item.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object ? d : default;
            switch (type.GetString())
            {
                case SubscriptionValidationType:
                    if (data.ValueKind != JsonValueKind.Object || !data.TryGetProperty("validationCode", out var code) || code.ValueKind != JsonValueKind.String)
                    {
                        error = $"event {i}: a subscription validation event needs 'data.validationCode' (a string)";
                        return false;
                    }

                    validationCode = code.GetString();
                    break;
                case BlobCreatedType:
                    if (data.ValueKind != JsonValueKind.Object || !data.TryGetProperty("url", out var url) || url.ValueKind != JsonValueKind.String)
                    {
                        error = $"event {i}: a blob-created event needs 'data.url' (a string)";
                        return false;
                    }

                    if (!Uri.TryCreate(url.GetString(), UriKind.Absolute, out var blobUrl) || (blobUrl.Scheme != Uri.UriSchemeHttp && blobUrl.Scheme != Uri.UriSchemeHttps))
                    {
                        error = $"event {i}: 'data.url' must be an absolute http(s) URL of a blob; got '{Shorten(url.GetString())}'";
                        return false;
                    }

                    var eTag = data.TryGetProperty("eTag", out var tag) && tag.ValueKind == JsonValueKind.String ? tag.GetString() : null;
                    created.Add(new BlobCreatedEvent(blobUrl, eTag));
                    break;
                default:
                    others++;
                    break;
            }
        }

        delivery = new EventGridDelivery(validationCode, created, others);
        error = null;
        return true;
    }

    private static string Shorten(string? value) => value is null ? "" : value.Length > 80 ? value[..80] + "…" : value;
}
