using System.Runtime.CompilerServices;
using Azure;

namespace Serverless.Core.Storage;

/// <summary>
/// Reads a multi-page Table query in the background without taking storage from the request path: after each page
/// it waits as long as that page took to come, so the scan uses at most about half of what storage gives it, and
/// each page has its own timeout instead of one for the whole scan.
/// </summary>
/// <remarks>
/// Why: a scan of a 100,000-model tenant's registry is two hundred pages, and in Azurite (whose table store tests
/// every row of the table and sorts the rest for each page) each page holds the emulator's one thread for hundreds
/// of milliseconds. Read back to back, from the router, two shards and the publisher at once, the pages left the
/// point reads of requests queued for longer than a request waits (1.5 s): the storage breaker opened and every
/// model not read before answered 503 (the fleet bench at 100,000, issue 17). With a timeout for the whole scan
/// (30 s), such a scan never finished at all and was started again by the next request. In Azure a page is
/// tens of milliseconds and the pause costs a scan that much again; scans here are never on a request's path.
/// </remarks>
public static class PacedTableScan
{
    /// <summary>How long one page may take before the scan gives up (a hung storage).</summary>
    public static readonly TimeSpan PageTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Every row of the query <paramref name="open"/> makes (given the token that ends a page past
    /// <see cref="PageTimeout"/> or when <paramref name="cancellationToken"/> fires), a page at a time, pausing after
    /// each page for as long as it took.
    /// </summary>
    public static async IAsyncEnumerable<T> ReadAsync<T>(Func<CancellationToken, AsyncPageable<T>> open, TimeProvider time, [EnumeratorCancellation] CancellationToken cancellationToken)
        where T : notnull
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(time);
        using var pageTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        pageTimeout.CancelAfter(PageTimeout);
        var requested = time.GetTimestamp();
        await foreach (var page in open(pageTimeout.Token).AsPages().WithCancellation(pageTimeout.Token).ConfigureAwait(false))
        {
            var took = time.GetElapsedTime(requested);
            foreach (var row in page.Values)
            {
                yield return row;
            }

            if (page.ContinuationToken is null)
            {
                yield break;
            }

            await Task.Delay(took, time, cancellationToken).ConfigureAwait(false);
            pageTimeout.CancelAfter(PageTimeout);
            requested = time.GetTimestamp();
        }
    }
}
