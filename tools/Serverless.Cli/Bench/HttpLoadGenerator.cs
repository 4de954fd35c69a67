using System.Buffers;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;

namespace Serverless.Cli.Bench;

/// <summary>
/// Drives HTTP load over one <see cref="HttpClient"/> (a <see cref="SocketsHttpHandler"/> with at most
/// <c>connections</c> connections per server). Closed loop: N workers, each sends its next request when
/// the last one is answered (maximum throughput). Open loop: requests are due at a fixed rate and each
/// one's latency counts from when it was due, not from when it was sent, so a server (or generator)
/// that falls behind shows it in the latencies instead of silently sending less (as wrk2 does).
/// </summary>
internal sealed class HttpLoadGenerator : IDisposable
{
    private static readonly MediaTypeHeaderValue JsonType = new("application/json");
    private readonly HttpClient _client;
    private readonly int _connections;

    public HttpLoadGenerator(int connections)
    {
        _connections = connections;
        _client = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public HttpClient Client => _client;

    /// <summary>Sends one request and reads the whole answer; returns (status, x-cache hit or not, elapsed ms).</summary>
    public async Task<(int Status, bool? CacheHit, double Ms)> SendOnceAsync(Uri uri, byte[] body, string? apiKey, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var (status, hit) = await SendAsync(uri, body, apiKey, cancellationToken).ConfigureAwait(false);
        return (status, hit, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>One request, timed, with where the shard loaded the model from when it had to (<c>x-load-source</c>).</summary>
    public async Task<(int Status, bool? CacheHit, string? LoadSource, double Ms)> SendOnceWithSourceAsync(Uri uri, byte[] body, string? apiKey, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, uri);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = JsonType;
        if (apiKey is not null)
        {
            request.Headers.TryAddWithoutValidation("x-api-key", apiKey);
        }

        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        bool? hit = response.Headers.NonValidated.TryGetValues("x-cache", out var cache) ? cache.ToString() == "hit" : null;
        var source = response.Headers.NonValidated.TryGetValues("x-load-source", out var values) ? values.ToString() : null;
        return ((int)response.StatusCode, hit, source, ms);
    }

    /// <summary>Closed loop: <c>connections</c> workers for warm-up plus duration; only the duration is measured.</summary>
    public async Task<LoadRun> ClosedLoopAsync(LoadTarget target, TimeSpan warmup, TimeSpan duration, CancellationToken cancellationToken)
    {
        var run = new LoadRun(100_000);
        var start = Stopwatch.GetTimestamp();
        var measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        var end = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task[_connections];
        for (var w = 0; w < workers.Length; w++)
        {
            var seed = w;
            workers[w] = Task.Run(async () =>
            {
                var random = new Random(seed);
                while (!cancellationToken.IsCancellationRequested)
                {
                    var sent = Stopwatch.GetTimestamp();
                    if (sent >= end)
                    {
                        return;
                    }

                    var (ok, hit) = await TrySendAsync(run, target.Next(random), target, cancellationToken).ConfigureAwait(false);
                    if (sent >= measureFrom)
                    {
                        run.Record(Stopwatch.GetElapsedTime(sent).TotalMilliseconds, ok, hit);
                    }
                }
            }, cancellationToken);
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        run.Seconds = duration.TotalSeconds;
        return run;
    }

    /// <summary>
    /// Open loop at <paramref name="rate"/> requests per second for warm-up plus duration; a request due in
    /// the measured window is measured from when it was due. Waits (bounded) for the stragglers.
    /// </summary>
    public async Task<LoadRun> OpenLoopAsync(LoadTarget target, double rate, TimeSpan warmup, TimeSpan duration, CancellationToken cancellationToken)
    {
        var total = (long)(rate * (warmup + duration).TotalSeconds);
        var warmupCount = (long)(rate * warmup.TotalSeconds);
        var run = new LoadRun((int)Math.Min(int.MaxValue, total - warmupCount));
        var outstanding = 0L;
        var ticksPerRequest = Stopwatch.Frequency / rate;
        var random = new Random(1);
        var start = Stopwatch.GetTimestamp();
        Action done = () => Interlocked.Decrement(ref outstanding);
        var scheduler = new Thread(() =>
        {
            for (long i = 0; i < total && !cancellationToken.IsCancellationRequested; i++)
            {
                var due = start + (long)(i * ticksPerRequest);
                WaitUntil(due);
                var measured = i >= warmupCount;
                var uri = target.Next(random);
                Interlocked.Increment(ref outstanding);
                // This thread only keeps time. A send's synchronous part (building the request, taking a connection,
                // writing to the socket) runs on the pool: done here, a slow one delayed every later due time
                // behind it, and then the scheduler caught up by sending a burst, which the server saw as a spike.
                ThreadPool.UnsafeQueueUserWorkItem(_ => _ = SendScheduledAsync(run, target, uri, due, measured, done, cancellationToken), null);
            }
        })
        {
            IsBackground = true,
            Name = "bench open-loop scheduler",
            Priority = ThreadPriority.AboveNormal,
        };
        scheduler.Start();
        while (scheduler.IsAlive)
        {
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }

        var drainUntil = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (Interlocked.Read(ref outstanding) > 0 && Stopwatch.GetTimestamp() < drainUntil)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }

        run.Seconds = duration.TotalSeconds;
        return run;
    }

    /// <summary>Waits (at most 30 s) until a request is answered 200: a new key reaches the router's tenant cache, a shard registers.</summary>
    public async Task WaitAnsweredAsync(Uri uri, byte[] body, string apiKey, Action<string> log, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            int status;
            try
            {
                (status, _, _) = await SendOnceAsync(uri, body, apiKey, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException)
            {
                status = 0;
            }

            if (status == 200)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"{uri} answered {status} for 30 s");
            }

            log($"  {uri} answered {status}; retrying…");
            await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => _client.Dispose();

    private async Task SendScheduledAsync(LoadRun run, LoadTarget target, Uri uri, long due, bool measured, Action done, CancellationToken cancellationToken)
    {
        try
        {
            var (ok, hit) = await TrySendAsync(run, uri, target, cancellationToken).ConfigureAwait(false);
            if (measured)
            {
                run.Record(Stopwatch.GetElapsedTime(due).TotalMilliseconds, ok, hit);
            }
        }
        finally
        {
            done();
        }
    }

    private async Task<(bool Ok, bool? Hit)> TrySendAsync(LoadRun run, Uri uri, LoadTarget target, CancellationToken cancellationToken)
    {
        try
        {
            var (status, hit) = await SendAsync(uri, target.Body, target.ApiKey, cancellationToken).ConfigureAwait(false);
            if (status != 200)
            {
                run.NoteError($"HTTP {status} from {uri}");
            }

            return (status == 200, hit);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            run.NoteError($"{e.GetType().Name}: {e.Message}");
            return (false, null);
        }
    }

    private async Task<(int Status, bool? CacheHit)> SendAsync(Uri uri, byte[] body, string? apiKey, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri);
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = JsonType;
        request.Content = content;
        if (apiKey is not null)
        {
            request.Headers.TryAddWithoutValidation("x-api-key", apiKey);
        }

        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        bool? hit = null;
        if (response.Headers.NonValidated.TryGetValues("x-cache", out var values))
        {
            hit = values.ToString() == "hit";
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(4096);
            try
            {
                while (await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
                {
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return ((int)response.StatusCode, hit);
    }

    /// <summary>
    /// Sleeps until <paramref name="due"/> without burning a core: in short native sleeps (usleep) where
    /// the OS has them, since Task.Delay and Thread.Sleep only resolve whole milliseconds.
    /// </summary>
    private static void WaitUntil(long due)
    {
        while (true)
        {
            var remaining = due - Stopwatch.GetTimestamp();
            if (remaining <= 0)
            {
                return;
            }

            var micros = remaining * 1_000_000 / Stopwatch.Frequency;
            if (micros > 2000)
            {
                Thread.Sleep(1);
            }
            else if (micros > 80 && !OperatingSystem.IsWindows())
            {
                _ = USleep((uint)(micros - 60));
            }
            else
            {
                Thread.Yield();
            }
        }
    }

    // A plain DllImport: LibraryImport would need unsafe code in this project, and usleep marshals nothing.
    [DllImport("libc", EntryPoint = "usleep")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int USleep(uint microseconds);
}
