namespace Serverless.Core.Storage;

/// <summary>One <c>Microsoft.Storage.BlobCreated</c> event: the blob's URL and the ETag it was written with (when given).</summary>
public sealed record BlobCreatedEvent(Uri Url, string? ETag);
