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

    /// <summary>Models a tenant may have (Ready or Retired versions) when its row sets none.</summary>
    [Range(1, int.MaxValue)]
    public int DefaultMaxModelsPerTenant { get; set; } = 250_000;

    /// <summary>Versions one model may have (Ready or Retired) when the tenant's row sets none.</summary>
    [Range(1, int.MaxValue)]
    public int DefaultMaxVersionsPerModel { get; set; } = 1_000;

    /// <summary>Bytes of model files a tenant may have stored (Ready or Retired versions) when its row sets none.</summary>
    [Range(1, long.MaxValue)]
    public long DefaultMaxBytesPerTenant { get; set; } = 1L << 40;

    /// <summary>
    /// Validator child processes at once (<see cref="ModelValidatorPool"/>), each reused; 0 validates inside the
    /// publisher (a model that crashes ONNX Runtime then takes the publisher down).
    /// </summary>
    [Range(0, 64)]
    public int ValidatorProcesses { get; set; } = 2;

    /// <summary>Resident memory one validator child may reach while opening a model; past it the model is rejected naming this setting.</summary>
    [Range(64L << 20, long.MaxValue)]
    public long ValidatorMemoryBytes { get; set; } = 3L << 30;

    /// <summary>Seconds one validation may take; past it the child is killed and the model rejected naming this setting.</summary>
    [Range(1, 3600)]
    public int ValidatorTimeoutSeconds { get; set; } = 120;
}
