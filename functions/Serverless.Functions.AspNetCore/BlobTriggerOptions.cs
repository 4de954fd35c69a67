using System.ComponentModel.DataAnnotations;

namespace Serverless.Functions.AspNetCore;

/// <summary>
/// How the local host's blob triggers scan their containers (section <c>BlobTrigger</c>). Drops announced by an
/// Event Grid event (the webhook; the CLI sends one after each drop) are handled at once; the scan finds the
/// rest (a blob written by another tool), and is spaced out so that listing a large container stays a small
/// share of the storage emulator's time.
/// </summary>
public sealed class BlobTriggerOptions
{
    public const string SectionName = "BlobTrigger";

    /// <summary>Shortest time between two listings of a container (seconds).</summary>
    [Range(0.05, 3600)]
    public double ScanIntervalSeconds { get; set; } = 0.5;

    /// <summary>Longest time between two listings, however long a listing takes (seconds).</summary>
    [Range(0.05, 3600)]
    public double MaxScanIntervalSeconds { get; set; } = 10;

    /// <summary>
    /// Blobs handled at once, by all of the app's blob-triggered functions together: the Functions host's
    /// host.json <c>extensions.blobs.maxDegreeOfParallelism</c>, whose default this is (8 × the cores). A publish
    /// mostly waits on storage and on its validator child, so one at a time left both idle.
    /// </summary>
    [Range(1, 1024)]
    public int MaxDegreeOfParallelism { get; set; } = 8 * Environment.ProcessorCount;
}
