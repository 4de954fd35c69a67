using System.ComponentModel.DataAnnotations;

namespace Serverless.Publishing;

/// <summary>Settings of the publisher (section <c>Publisher</c>).</summary>
public sealed class PublisherOptions
{
    public const string SectionName = "Publisher";

    /// <summary>The largest model file accepted.</summary>
    [Range(1, long.MaxValue)]
    public long MaxModelBytes { get; set; } = 2L * 1024 * 1024 * 1024 - 1;

    /// <summary>
    /// The GPU pool's session budget (the GPU app's <c>Shard__CacheBytes</c>): a model published for the GPU
    /// whose sessions would need more than this is rejected at publish, not at its first request.
    /// </summary>
    [Range(1, long.MaxValue)]
    public long GpuCacheBytes { get; set; } = 4L * 1024 * 1024 * 1024;
}
