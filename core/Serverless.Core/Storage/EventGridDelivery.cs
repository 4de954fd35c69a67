namespace Serverless.Core.Storage;

/// <summary>
/// What one Event Grid delivery (Event Grid schema: a JSON array of events) asked of a webhook: the
/// subscription-validation handshake's code, or blob-created events; events of other types are counted.
/// </summary>
public sealed record EventGridDelivery(string? ValidationCode, IReadOnlyList<BlobCreatedEvent> BlobsCreated, int OtherEvents);
