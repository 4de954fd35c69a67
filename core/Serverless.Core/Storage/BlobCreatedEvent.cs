namespace Serverless.Core.Storage;

/// <summary>
/// One <c>Microsoft.Storage.BlobCreated</c> event: the blob's URL (checked to be absolute http(s), where the SDK's
/// <c>StorageBlobCreatedEventData.Url</c> is any string) and the ETag it was written with (when given).
/// </summary>
public sealed record BlobCreatedEvent(Uri Url, string? ETag);
