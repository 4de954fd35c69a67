using System.ComponentModel.DataAnnotations;

namespace Serverless.Http.Hosting;

/// <summary>
/// Connection limits of the Kestrel hosts we run ourselves (section <c>HttpLimits</c>): the local cluster's apps
/// and the GPU container app. In Azure the Functions front end owns the router's and the shards' client
/// connections, so only the GPU app binds these there. They cut slow bodies (a byte a second), idle or half-open
/// connections and header floods, which otherwise each hold a connection (and, for a body, a request) for as long
/// as the client likes. Applied by <see cref="KestrelLimits"/>.
/// </summary>
public sealed class HttpLimitsOptions : IValidatableObject
{
    public const string SectionName = "HttpLimits";

    /// <summary>
    /// Slowest request body accepted after the grace period, in bytes per second; slower, the connection is cut
    /// (HTTP/1.1: 408 when no answer has started). 0 turns the check off. Kestrel's own default is 240.
    /// </summary>
    [Range(0, 1_000_000_000)]
    public int MinRequestBodyBytesPerSecond { get; set; } = 240;

    /// <summary>How long a body may arrive slower than <see cref="MinRequestBodyBytesPerSecond"/> first (TCP slow start, a pause).</summary>
    [Range(1, 300)]
    public int MinRequestBodyGraceSeconds { get; set; } = 5;

    /// <summary>Time from the connection's first byte to the end of the request headers; longer, the connection is cut.</summary>
    [Range(1, 300)]
    public int RequestHeadersTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// How long an idle keep-alive connection stays open. Longer than the pooled-connection idle time of our own
    /// clients (the router's shard client: 1 min; the bench: 2 min), so the server never closes a connection a
    /// client is about to reuse.
    /// </summary>
    [Range(1, 3600)]
    public int KeepAliveTimeoutSeconds { get; set; } = 130;

    /// <summary>Most headers in one request; more answer 431.</summary>
    [Range(1, 10_000)]
    public int MaxRequestHeaderCount { get; set; } = 100;

    /// <summary>Largest total size of one request's headers (and request line), in bytes; larger answer 431.</summary>
    [Range(1024, 1024 * 1024)]
    public int MaxRequestHeadersTotalBytes { get; set; } = 32 * 1024;

    /// <summary>Most open connections per process (HTTP/1.1 and HTTP/2 alike); more are refused. 0: no limit.</summary>
    [Range(0, 10_000_000)]
    public int MaxConcurrentConnections { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        // Kestrel checks the request line and headers against this one total: a limit below a browser's usual
        // request (a few KiB of cookies and accept headers) would refuse ordinary callers.
        if (MaxRequestHeadersTotalBytes < 4096)
        {
            yield return new ValidationResult(
                $"{SectionName}__{nameof(MaxRequestHeadersTotalBytes)} is {MaxRequestHeadersTotalBytes}: under 4096 bytes refuses ordinary requests",
                [nameof(MaxRequestHeadersTotalBytes)]);
        }
    }
}
