using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Messaging.EventGrid;
using Azure.Messaging.EventGrid.SystemEvents;
using Azure.Storage.Blobs;

namespace Serverless.Core.Storage;

/// <summary>
/// Event Grid's blob-storage events in the Event Grid schema (read and written with the Azure SDK's
/// <see cref="EventGridEvent"/>), as Azure delivers them to the Functions host's blob-extension webhook
/// (<c>/runtime/webhooks/blobs?functionName=Host.Functions.{name}</c>), which is how the publisher's
/// <c>BlobTriggerSource.EventGrid</c> trigger hears of a drop. Locally nothing emits them (Azurite has no Event
/// Grid), so the CLI sends the same event after it drops a model, and the local host takes it at the same path:
/// a drop is published without listing the container.
/// </summary>
public static class EventGridBlobEvents
{
    public const string BlobCreatedType = SystemEventNames.StorageBlobCreated;
    public const string SubscriptionValidationType = SystemEventNames.EventGridSubscriptionValidation;

    /// <summary>The webhook path, relative to the function app's root.</summary>
    public const string WebhookPath = "runtime/webhooks/blobs";

    /// <summary>The value of the webhook's <c>functionName</c> query parameter for a function.</summary>
    public static string FunctionNameParameter(string function) => "Host.Functions." + function;

    /// <summary>The Event Grid schema body (an array of one event, as Event Grid posts it) announcing that <paramref name="blobUrl"/> was written.</summary>
    public static byte[] BlobCreated(Uri blobUrl, string? eTag, long contentLength, DateTimeOffset eventTime)
    {
        ArgumentNullException.ThrowIfNull(blobUrl);
        // The container and blob name, as Event Grid puts them in the subject (the SDK's parser knows Azurite's
        // path-style URLs as well as Azure's).
        var names = new BlobUriBuilder(blobUrl);
        // The data as Azure Storage writes it (the SDK's StorageBlobCreatedEventData has no public constructor).
        var data = new JsonObject
        {
            ["api"] = "PutBlob",
            ["contentType"] = "application/octet-stream",
            ["contentLength"] = contentLength,
            ["blobType"] = "BlockBlob",
            ["url"] = blobUrl.AbsoluteUri,
        };
        if (eTag is not null)
        {
            data["eTag"] = eTag;
        }

        var created = new EventGridEvent($"/blobServices/default/containers/{names.BlobContainerName}/blobs/{names.BlobName}", BlobCreatedType, "1.0", BinaryData.FromString(data.ToJsonString()))
        {
            EventTime = eventTime,
        };
        return new BinaryData(new[] { created }).ToArray();
    }

    /// <summary>The webhook's answer to the subscription validation handshake: the code echoed.</summary>
    public static byte[] ValidationResponse(string validationCode) =>
        new BinaryData(new SubscriptionValidationResponse { ValidationResponse = validationCode }).ToArray();

    /// <summary>
    /// Reads a delivery. Returns false with <paramref name="error"/> naming what is wrong when the body is not an
    /// Event Grid schema array (or one event), an event lacks a field the schema requires, or a blob-created event
    /// has no absolute <c>data.url</c>, or a validation event no <c>data.validationCode</c>.
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> body, out EventGridDelivery? delivery, out string? error)
    {
        delivery = null;
        EventGridEvent[] events;
        try
        {
            events = EventGridEvent.ParseMany(new BinaryData(body));
        }
        catch (JsonException e)
        {
            error = $"the body is not JSON: {e.Message}";
            return false;
        }
        catch (ArgumentNullException e)
        {
            error = $"an event has no '{JsonNamingPolicy.CamelCase.ConvertName(e.ParamName ?? "?")}', which the Event Grid schema requires";
            return false;
        }
        catch (InvalidOperationException e)
        {
            // An element of the wrong kind where the schema wants an object (an event, its data).
            error = $"the body must be a JSON array of Event Grid events (Event Grid schema): {e.Message}";
            return false;
        }

        if (events.Length == 0 && !IsArray(body.Span))
        {
            // The SDK reads a JSON value that is neither an array nor an object as no events.
            error = "the body must be a JSON array of Event Grid events (Event Grid schema)";
            return false;
        }

        return TryRead(events, out delivery, out error);
    }

    private static bool TryRead(EventGridEvent[] events, out EventGridDelivery? delivery, out string? error)
    {
        delivery = null;
        string? validationCode = null;
        var created = new List<BlobCreatedEvent>();
        var others = 0;
        for (var i = 0; i < events.Length; i++)
        {
            var item = events[i];
            object? data;
            try
            {
                if (!item.TryGetSystemEventData(out data))
                {
                    others++;
                    continue;
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                error = $"event {i}: its data is not what a '{item.EventType}' event carries: {e.Message}";
                return false;
            }

            switch (data)
            {
                case SubscriptionValidationEventData validation:
                    if (validation.ValidationCode is null)
                    {
                        error = $"event {i}: a subscription validation event needs 'data.validationCode' (a string)";
                        return false;
                    }

                    validationCode = validation.ValidationCode;
                    break;
                case StorageBlobCreatedEventData blob:
                    if (blob.Url is null)
                    {
                        error = $"event {i}: a blob-created event needs 'data.url' (a string)";
                        return false;
                    }

                    if (!Uri.TryCreate(blob.Url, UriKind.Absolute, out var blobUrl) || (blobUrl.Scheme != Uri.UriSchemeHttp && blobUrl.Scheme != Uri.UriSchemeHttps))
                    {
                        error = $"event {i}: 'data.url' must be an absolute http(s) URL of a blob; got '{Shorten(blob.Url)}'";
                        return false;
                    }

                    created.Add(new BlobCreatedEvent(blobUrl, blob.ETag));
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

    private static bool IsArray(ReadOnlySpan<byte> body)
    {
        var text = body.TrimStart(" \t\r\n"u8);
        return text.Length > 0 && text[0] == (byte)'[';
    }

    private static string Shorten(string value) => value.Length > 80 ? value[..80] + "…" : value;
}
