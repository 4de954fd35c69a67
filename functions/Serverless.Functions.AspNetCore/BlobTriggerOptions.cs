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

    /// <summary>
    /// Longest time between two listings, however long a listing takes (seconds): the longest a drop nobody announced
    /// waits. 60 s, not 10: a listing of a 100,000-model drop container takes Azurite seconds of its one thread, and
    /// every 10 s that was a third of it; up to 60 s it stays within 5% (<c>ScanCostMultiple</c>) to 3 s a listing.
    /// </summary>
    [Range(0.05, 3600)]
    public double MaxScanIntervalSeconds { get; set; } = 60;

    /// <summary>
    /// A listed blob written less than this long ago is left to its event (seconds): during a bulk publish every
    /// listing saw drops whose events were a moment behind, took them for unannounced, handled them itself and
    /// listed again at the shortest interval, so the container was listed every half second. A blob no event
    /// announces is handled by the first listing after it is this old.
    /// </summary>
    [Range(0, 3600)]
    public double NoticeGraceSeconds { get; set; } = 2;

    /// <summary>
    /// Blobs handled at once, by all of the app's blob-triggered functions together: the Functions host's
    /// host.json <c>extensions.blobs.maxDegreeOfParallelism</c>, whose default this is (8 × the cores). A publish
    /// mostly waits on storage and on its validator child, so one at a time left both idle.
    /// </summary>
    [Range(1, 1024)]
    public int MaxDegreeOfParallelism { get; set; } = 8 * Environment.ProcessorCount;
}
