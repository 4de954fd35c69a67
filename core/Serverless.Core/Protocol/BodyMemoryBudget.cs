using System.Globalization;
using Serverless.Core.Serving;

namespace Serverless.Core.Protocol;

/// <summary>
/// What the request bodies a process is reading or holding may take in memory together, counted before each buffer
/// grows: the router buffers a body whole before it forwards it, so without a bound a tenant sending many bodies just
/// under the per-body limit at once (or chunked ones that are refused only at the limit) could take gigabytes.
/// A body that would take the process over <see cref="LimitBytes"/> is refused with 503 and Retry-After
/// (<see cref="ServingErrorCode.Unavailable"/>); the per-body limit stays the caller's (413).
/// </summary>
public sealed class BodyMemoryBudget
{
    private readonly string _setting;
    private long _inFlight;

    /// <param name="limitBytes">The bound over every body in flight.</param>
    /// <param name="setting">The setting that sets it, named in the error (e.g. <c>Router__InFlightBodyBytes</c>).</param>
    public BodyMemoryBudget(long limitBytes, string setting)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limitBytes, 1);
        LimitBytes = limitBytes;
        _setting = setting;
    }

    public long LimitBytes { get; }

    /// <summary>Bytes held by the bodies in flight now.</summary>
    public long InFlightBytes => Interlocked.Read(ref _inFlight);

    /// <summary>A body's account, empty; dispose it when the request no longer holds the body.</summary>
    public BodyMemory Open() => new(this);

    internal void Take(long bytes)
    {
        var after = Interlocked.Add(ref _inFlight, bytes);
        if (after > LimitBytes)
        {
            Interlocked.Add(ref _inFlight, -bytes);
            throw new ServingException(ServingError.Unavailable(string.Create(CultureInfo.InvariantCulture,
                $"{after - bytes:N0} bytes of request bodies are in flight and this one needs {bytes:N0} more, over the budget of {LimitBytes:N0} bytes ({_setting}); retry shortly")));
        }
    }

    internal void Release(long bytes) => Interlocked.Add(ref _inFlight, -bytes);
}
