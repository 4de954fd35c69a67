using System.ComponentModel.DataAnnotations;

namespace Serverless.Core.Storage;

/// <summary>
/// Where the platform's Blob and Table storage is (section <c>Storage</c>): a connection string locally
/// (Azurite), or service URIs with a managed identity in Azure, so no key is in any app setting.
/// </summary>
public sealed class StorageOptions : IValidatableObject
{
    public const string SectionName = "Storage";

    public string? ConnectionString { get; set; }

    public Uri? BlobServiceUri { get; set; }

    public Uri? TableServiceUri { get; set; }

    /// <summary>
    /// How long a request waits on a storage read it has nothing to stand in for (a tenant, model or placement never
    /// read before) before it answers 503 with Retry-After: 1,500 ms, so a hung storage answers within 2 s. Point reads
    /// take milliseconds; raise it only for a storage known to be that slow.
    /// </summary>
    [Range(50, 30_000)]
    public int RequestWaitMilliseconds { get; set; } = 1500;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrWhiteSpace(ConnectionString) && (BlobServiceUri is null || TableServiceUri is null))
        {
            yield return new ValidationResult(
                "Storage is not configured: set Storage__ConnectionString, or both Storage__BlobServiceUri and Storage__TableServiceUri.");
        }
    }
}
