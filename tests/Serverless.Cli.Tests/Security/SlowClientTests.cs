using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Cli.Tests.Observability;

namespace Serverless.Cli.Tests.Security;

/// <summary>
/// Issue 15: the Kestrel hosts we run (the local cluster's apps, the GPU app) cut slow and abusive clients with the
/// limits of section <c>HttpLimits</c> (defaults: bodies under 240 B/s after 5 s, headers within 10 s, at most 100
/// headers and 32 KiB of them). Raw TCP to 127.0.0.1 only, each test bounded in time; the apps still serve
/// ordinary requests afterwards.
/// </summary>
[TestClass]
public sealed class SlowClientTests
{
    /// <summary>Longest a cut may take: the 5 s grace or the 10 s header timeout, plus Kestrel's 1 s heartbeat and a loaded machine's slack.</summary>
    private static readonly TimeSpan CutWithin = TimeSpan.FromSeconds(20);

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    public async Task BodyAtAByteASecond_IsCutAfterTheGrace_AndTheRouterStillServes()
    {
        var head = $"POST /v2/models/{LocalCluster.DemoModel}/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {Cluster.DemoKey}\r\n"
            + "Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n";
        var (answer, elapsed) = await TrickleAsync(Cluster.State.RouterUrl, Encoding.ASCII.GetBytes(head), Encoding.ASCII.GetBytes(new string(' ', 4096)));

        // The router reads the body itself: its 400 names the limit (a host that is not reading yet answers 408).
        AssertCut(answer, elapsed, "400", "a body at a byte a second");
        StringAssert.Contains(answer, "HttpLimits__MinRequestBodyBytesPerSecond", answer);
        Assert.IsTrue(elapsed >= TimeSpan.FromSeconds(4), $"cut after {elapsed.TotalSeconds:0.0} s: before the 5 s grace");
        await AssertStillServesAsync();
    }

    [TestMethod]
    [DataRow("router", DisplayName = "router (local host)")]
    [DataRow("gpu", DisplayName = "GPU app")]
    public async Task HeadersAtAByteASecond_AreCutAtTheHeaderTimeout(string app)
    {
        // Request line and first header at once, then the rest of a header a byte a second, never finishing.
        var (answer, elapsed) = await TrickleAsync(UrlOf(app), Encoding.ASCII.GetBytes("GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n"), Encoding.ASCII.GetBytes("X-Slow: " + new string('a', 100)));

        AssertCut(answer, elapsed, "408", $"{app}: headers at a byte a second");
        await AssertStillServesAsync();
    }

    [TestMethod]
    [DataRow("router", 500, 16, DisplayName = "router: 500 headers")]
    [DataRow("router", 8, 8 * 1024, DisplayName = "router: 64 KiB of headers")]
    [DataRow("gpu", 500, 16, DisplayName = "GPU app: 500 headers")]
    [DataRow("gpu", 8, 8 * 1024, DisplayName = "GPU app: 64 KiB of headers")]
    public async Task HeaderFlood_Is431(string app, int count, int valueLength)
    {
        var request = new StringBuilder("GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (var i = 0; i < count; i++)
        {
            request.Append("X-Flood-").Append(i).Append(": ").Append('v', valueLength).Append("\r\n");
        }

        request.Append("\r\n");
        using var timeout = new CancellationTokenSource(CutWithin);
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", new Uri(UrlOf(app)).Port, timeout.Token);
        var stream = client.GetStream();
        var watch = Stopwatch.StartNew();
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), timeout.Token);
        }
        catch (IOException)
        {
            // Kestrel may answer and close before it has read everything: the answer is still there to read.
        }

        var answer = await ReadUntilClosedAsync(stream, timeout.Token);
        Assert.AreNotEqual(0, answer.Length, $"{app}: a header flood closed without an answer");
        AssertCut(answer, watch.Elapsed, "431", $"{app}: {count} headers of {valueLength} bytes");
        await AssertStillServesAsync();
    }

    private static string UrlOf(string app) => app == "gpu"
        ? Cluster.State.Gpu?.Url ?? throw new AssertInconclusiveException("the cluster has no GPU app")
        : Cluster.State.RouterUrl;

    /// <summary>
    /// Sends <paramref name="head"/>, then <paramref name="trickle"/> a byte a second while reading, until the server
    /// closes the connection or <see cref="CutWithin"/> passes. Returns what the server sent and when it stopped.
    /// </summary>
    private static async Task<(string Answer, TimeSpan Elapsed)> TrickleAsync(string url, byte[] head, byte[] trickle)
    {
        using var timeout = new CancellationTokenSource(CutWithin);
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", new Uri(url).Port, timeout.Token);
        var stream = client.GetStream();
        var watch = Stopwatch.StartNew();
        await stream.WriteAsync(head, timeout.Token);
        var reading = ReadUntilClosedAsync(stream, timeout.Token);
        try
        {
            foreach (var b in trickle)
            {
                if (reading.IsCompleted)
                {
                    break;
                }

                await stream.WriteAsync(new[] { b }, timeout.Token);
                await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(1), timeout.Token));
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The server cut the connection under the write, or the bound passed: the read says which.
        }

        var answer = await reading;
        return (answer, watch.Elapsed);
    }

    /// <summary>What the server sends until it closes the connection (or resets it); cut short at the token.</summary>
    private static async Task<string> ReadUntilClosedAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // A reset after the answer: the connection is cut all the same.
        }
        catch (OperationCanceledException)
        {
            return "(still open after " + CutWithin.TotalSeconds + " s) " + Encoding.ASCII.GetString(received.ToArray());
        }

        return Encoding.ASCII.GetString(received.ToArray());
    }

    /// <summary>The server closed the connection within the bound, answering with <paramref name="status"/> if it answered at all.</summary>
    private static void AssertCut(string answer, TimeSpan elapsed, string status, string what)
    {
        Assert.IsFalse(answer.StartsWith("(still open", StringComparison.Ordinal), $"{what}: {answer}");
        Assert.IsTrue(elapsed < CutWithin, $"{what}: cut only after {elapsed.TotalSeconds:0.0} s");
        if (answer.Length > 0)
        {
            StringAssert.StartsWith(answer, $"HTTP/1.1 {status} ", $"{what}: answered {answer}");
        }
    }

    private static async Task AssertStillServesAsync()
    {
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, FleetProbe.Body);
        Assert.AreEqual(200, status, body?.ToJsonString());
        if (Cluster.State.Gpu is { } gpu)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            using var live = await http.GetAsync(new Uri(gpu.Url.TrimEnd('/') + "/v2/health/live"));
            Assert.AreEqual(200, (int)live.StatusCode, "GPU app /v2/health/live");
        }
    }
}
