using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Serverless.Cli.Bench;

/// <summary>
/// The attacks an <see cref="HttpClient"/> will not send, written to a socket to 127.0.0.1 by hand: a body trickled a
/// byte a second, a Content-Length far over the body limit, a chunked body that never stops at the limit, and a
/// flood of headers. Each waits (bounded) for the server's status line and records it in an <see cref="AttackTally"/>.
/// </summary>
internal sealed class RawHttpAttacks
{
    public const string SlowBody = "slow body (1 B/s)";
    public const string DeclaredTooLarge = "Content-Length 1 GiB";
    public const string ChunkedTooLarge = "chunked body past the limit";
    public const string HeaderFlood = "500 headers";

    private readonly Uri _router;
    private readonly string _path;
    private readonly string _apiKey;
    private readonly AttackTally _tally;
    private readonly List<double> _slowCutSeconds = [];

    public RawHttpAttacks(Uri router, string path, string apiKey, AttackTally tally)
    {
        _router = router;
        _path = path;
        _apiKey = apiKey;
        _tally = tally;
        // Kestrel cuts a body under its minimum data rate with 408, which the router answers as a 400 naming the setting.
        tally.Expect(SlowBody, 400);
        tally.Expect(DeclaredTooLarge, 413);
        tally.Expect(ChunkedTooLarge, 413);
        tally.Expect(HeaderFlood, 431);
    }

    /// <summary>Seconds from connecting until the server cut each slow body.</summary>
    public double[] SlowCutSeconds()
    {
        lock (_slowCutSeconds)
        {
            return [.. _slowCutSeconds];
        }
    }

    /// <summary>
    /// Runs until <paramref name="cancellationToken"/>: <paramref name="slowConnections"/> slow bodies at once (each
    /// started again when cut) and one of each other attack every <paramref name="every"/>.
    /// </summary>
    public async Task RunAsync(int slowConnections, TimeSpan every, CancellationToken cancellationToken)
    {
        var loops = new List<Task>();
        for (var i = 0; i < slowConnections; i++)
        {
            loops.Add(LoopAsync(SlowBodyAsync, TimeSpan.Zero, cancellationToken));
        }

        loops.Add(LoopAsync(DeclaredTooLargeAsync, every, cancellationToken));
        loops.Add(LoopAsync(ChunkedTooLargeAsync, every, cancellationToken));
        loops.Add(LoopAsync(HeaderFloodAsync, every, cancellationToken));
        await Task.WhenAll(loops).ConfigureAwait(false);
    }

    private static async Task LoopAsync(Func<CancellationToken, Task> attack, TimeSpan pause, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await attack(cancellationToken).ConfigureAwait(false);
                if (pause > TimeSpan.Zero)
                {
                    await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private string Head(string extraHeaders) =>
        $"POST {_path} HTTP/1.1\r\nHost: {_router.Authority}\r\nx-api-key: {_apiKey}\r\nContent-Type: application/json\r\n{extraHeaders}\r\n";

    private async Task SlowBodyAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var socket = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        var stream = new NetworkStream(socket, ownsSocket: false);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(Head("Content-Length: 100000\r\n")), cancellationToken).ConfigureAwait(false);
            var answer = ReadStatusAsync(stream, TimeSpan.FromSeconds(60), CancellationToken.None);
            // A byte a second until the server answers (its minimum data rate) or 60 s pass.
            while (!answer.IsCompleted && Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(60))
            {
                try
                {
                    await stream.WriteAsync("{"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    break;
                }

                await Task.WhenAny(answer, Task.Delay(1000, cancellationToken)).ConfigureAwait(false);
            }

            var status = await answer.ConfigureAwait(false);
            _tally.Record(SlowBody, status);
            lock (_slowCutSeconds)
            {
                _slowCutSeconds.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        }
    }

    private async Task DeclaredTooLargeAsync(CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        var stream = new NetworkStream(socket, ownsSocket: false);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(Head("Content-Length: 1073741824\r\n")), cancellationToken).ConfigureAwait(false);
            var answer = ReadStatusAsync(stream, TimeSpan.FromSeconds(10), CancellationToken.None);
            var chunk = new byte[64 * 1024];
            chunk.AsSpan().Fill((byte)' ');
            try
            {
                // Some of the body, as a client would start sending it; the answer should not wait for the rest.
                for (var i = 0; i < 4 && !answer.IsCompleted; i++)
                {
                    await stream.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (IOException)
            {
            }

            _tally.Record(DeclaredTooLarge, await answer.ConfigureAwait(false));
        }
    }

    private async Task ChunkedTooLargeAsync(CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        var stream = new NetworkStream(socket, ownsSocket: false);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(Head("Transfer-Encoding: chunked\r\n")), cancellationToken).ConfigureAwait(false);
            var answer = ReadStatusAsync(stream, TimeSpan.FromSeconds(30), CancellationToken.None);
            // 1 MiB chunks until the server refuses (the router's limit is 32 MiB) or 64 MiB were sent.
            var payload = new byte[1024 * 1024];
            payload.AsSpan().Fill((byte)' ');
            var head = Encoding.ASCII.GetBytes(payload.Length.ToString("x", CultureInfo.InvariantCulture) + "\r\n");
            var tail = "\r\n"u8.ToArray();
            try
            {
                var started = Stopwatch.GetTimestamp();
                for (var i = 0; i < 64 && !answer.IsCompleted; i++)
                {
                    await stream.WriteAsync(head, cancellationToken).ConfigureAwait(false);
                    await stream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
                    await stream.WriteAsync(tail, cancellationToken).ConfigureAwait(false);
                    await PaceAsync(started, (i + 1L) * payload.Length, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (IOException)
            {
            }

            _tally.Record(ChunkedTooLarge, await answer.ConfigureAwait(false));
        }
    }

    /// <summary>
    /// A body's bytes leave at <see cref="BytesPerSecond"/>, a client's network link, not at loopback speed: written
    /// as fast as loopback takes them, 32 MiB keep both of this machine's cores busy for a few milliseconds, the
    /// sending half of it on the attacker's side, and the bench would measure this machine rather than the defence.
    /// </summary>
    private static async Task PaceAsync(long started, long sent, CancellationToken cancellationToken)
    {
        var due = TimeSpan.FromSeconds((double)sent / BytesPerSecond) - Stopwatch.GetElapsedTime(started);
        if (due > TimeSpan.Zero)
        {
            await Task.Delay(due, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>1 Gbit/s: the link of a client machine in the same region.</summary>
    public const long BytesPerSecond = 125_000_000;

    private async Task HeaderFloodAsync(CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        var stream = new NetworkStream(socket, ownsSocket: false);
        await using (stream.ConfigureAwait(false))
        {
            var headers = new StringBuilder();
            for (var i = 0; i < 500; i++)
            {
                headers.Append(CultureInfo.InvariantCulture, $"x-junk-{i}: {i}\r\n");
            }

            headers.Append("Content-Length: 2\r\n");
            var answer = ReadStatusAsync(stream, TimeSpan.FromSeconds(10), CancellationToken.None);
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(Head(headers.ToString()) + "{}"), cancellationToken).ConfigureAwait(false);
            }
            catch (IOException)
            {
            }

            _tally.Record(HeaderFlood, await answer.ConfigureAwait(false));
        }
    }

    private async Task<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_router.Host, _router.Port, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The status code of the server's answer, or 0 when none came within <paramref name="limit"/>.</summary>
    private static async Task<int> ReadStatusAsync(NetworkStream stream, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        var buffer = new byte[512];
        var filled = 0;
        try
        {
            while (filled < 12)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(filled), timeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return 0;
                }

                filled += read;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            return 0;
        }

        // "HTTP/1.1 413 …"
        return int.TryParse(Encoding.ASCII.GetString(buffer, 9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status) ? status : 0;
    }
}
