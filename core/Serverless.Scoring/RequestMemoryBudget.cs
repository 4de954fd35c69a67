using System.Globalization;
using Microsoft.Extensions.Options;
using Serverless.Core.Serving;
using Serverless.Core.Sharding;

namespace Serverless.Scoring;

/// <summary>
/// What the inference requests in flight on this shard may hold in memory: their bodies and the tensors decoded
/// from them, counted before each buffer is allocated, so what a request costs is bounded by what it sends and by
/// the settings, never by what its shape declares (docs/reliability.md, "What a request may cost").
/// One request over <see cref="ShardOptions.MaxRequestMemoryBytes"/> is refused with 413; a request that would take
/// the shard over <see cref="ShardOptions.InFlightMemoryBytes"/> gets 503 with Retry-After (another replica, or later).
/// </summary>
public sealed class RequestMemoryBudget
{
    private readonly long _perRequest;
    private readonly long _inFlightLimit;
    private long _inFlight;

    public RequestMemoryBudget(IOptions<ShardOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _perRequest = options.Value.MaxRequestMemoryBytes;
        _inFlightLimit = options.Value.InFlightMemoryBytes;
    }

    /// <summary>Bytes held by the requests in flight now.</summary>
    public long InFlightBytes => Interlocked.Read(ref _inFlight);

    /// <summary>The per-request budget (<see cref="ShardOptions.MaxRequestMemoryBytes"/>).</summary>
    public long PerRequestBytes => _perRequest;

    /// <summary>
    /// A request's account, holding <paramref name="bodyBytes"/> at once (a body's declared length, before it is
    /// read); dispose it when the request ends. Throws the request's error when the bytes do not fit.
    /// </summary>
    public RequestMemory Open(long bodyBytes)
    {
        var memory = new RequestMemory(this);
        if (bodyBytes > 0)
        {
            memory.TakeBody(bodyBytes);
        }

        return memory;
    }

    // The name of what needs the bytes is built only for an error: the hot path allocates nothing here.
    internal void Take(long held, long bytes, string? input, bool batchCopy)
    {
        if (held + bytes > _perRequest)
        {
            var what = Describe(input, batchCopy);
            throw new ServingException(ServingError.TooLarge(string.Create(CultureInfo.InvariantCulture,
                $"{what} needs {bytes:N0} bytes, which takes the request to {held + bytes:N0} bytes of memory, over the per-request budget of {_perRequest:N0} bytes (Shard__MaxRequestMemoryBytes); send fewer or smaller tensors")));
        }

        var after = Interlocked.Add(ref _inFlight, bytes);
        if (after > _inFlightLimit)
        {
            Interlocked.Add(ref _inFlight, -bytes);
            var what = Describe(input, batchCopy);
            throw new ServingException(ServingError.Unavailable(string.Create(CultureInfo.InvariantCulture,
                $"shard has {after - bytes:N0} bytes of requests in flight and {what} needs {bytes:N0} more, over its budget of {_inFlightLimit:N0} bytes (Shard__InFlightMemoryBytes); retry shortly or on another replica")));
        }
    }

    private static string Describe(string? input, bool batchCopy) =>
        input is null ? "its body" : batchCopy ? $"the dynamic batch's copy of input '{input}'" : $"input '{input}'";

    internal void Release(long bytes) => Interlocked.Add(ref _inFlight, -bytes);
}
