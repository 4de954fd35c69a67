using System.ComponentModel.DataAnnotations;

namespace Serverless.Core.Publishing;

/// <summary>Settings of the publisher (section <c>Publisher</c>).</summary>
public sealed class PublisherOptions
{
    public const string SectionName = "Publisher";

    /// <summary>The largest model file accepted.</summary>
    [Range(1, long.MaxValue)]
    public long MaxModelBytes { get; set; } = 2L * 1024 * 1024 * 1024 - 1;
}
