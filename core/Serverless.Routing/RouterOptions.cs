using System.ComponentModel.DataAnnotations;
using Serverless.Core.Protocol;

namespace Serverless.Routing;

/// <summary>Settings of the router app (section <c>Router</c>).</summary>
public sealed class RouterOptions
{
    public const string SectionName = "Router";

    /// <summary>The largest request body accepted; larger ones get 413.</summary>
    [Range(1024, 1L << 31)]
    public long MaxBodyBytes { get; set; } = RequestBody.DefaultLimitBytes;

    /// <summary>
    /// What every request body the router is reading or forwarding may hold together (it buffers each whole); a body
    /// that would take it over gets 503 with Retry-After. At least <see cref="MaxBodyBytes"/>.
    /// </summary>
    [Range(1024, 1L << 40)]
    public long InFlightBodyBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>A tenant's request quota when its row sets none (requests per second, with a one-second burst).</summary>
    [Range(1, 10_000_000)]
    public int DefaultTenantRequestsPerSecond { get; set; } = 1000;

    /// <summary>How long one forward to a shard may take before the next replica is tried.</summary>
    [Range(1, 600)]
    public int ForwardTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// The deadline of one inference request at the router: resolving the model, forwarding and every retry
    /// together; past it the answer is 504. A client may lower it for its request with <c>x-request-timeout-ms</c>.
    /// </summary>
    [Range(1, 600)]
    public int RequestTimeoutSeconds { get; set; } = 30;

    /// <summary>How long a connection attempt to a shard may take.</summary>
    [Range(1, 60)]
    public int ConnectTimeoutSeconds { get; set; } = 2;

    /// <summary>The key that opens <c>/dashboard</c> (<c>?key=</c> or header <c>x-admin-key</c>); empty = the dashboard answers 401.</summary>
    public string AdminKey { get; set; } = "";
}
