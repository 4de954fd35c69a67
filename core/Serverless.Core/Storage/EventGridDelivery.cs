namespace Serverless.Core.Storage;

/// <summary>
/// What one Event Grid delivery (Event Grid schema: a JSON array of events) asked of a webhook: the
/// subscription-validation handshake's code, or blob-created events; events of other types are counted.
/// Ours rather than the SDK's event array: the webhook and the listener need just this, checked once (every
/// blob URL absolute http(s)), not each event's envelope and data to re-read.
/// </summary>
public sealed record EventGridDelivery(string? ValidationCode, IReadOnlyList<BlobCreatedEvent> BlobsCreated, int OtherEvents);
