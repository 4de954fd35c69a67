using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Serverless.Cli.Bench;

/// <summary>
/// The attacker of <see cref="HostileScenario"/>, run in a process of its own (<c>serverless bench-attack</c>): a mix
/// of shape bombs, made-up model and tenant names, wrong keys and huge-output requests open-loop at
/// <see cref="Rate"/>, plus slow bodies, oversized bodies and header floods over raw sockets, all to the router with
/// one tenant's valid key. A process of its own because a real attacker does not share the real tenant's client:
/// in the bench's process its sends queued on the thread pool and its garbage paused the collector that the real
/// tenant's open loop, and its latency clock, ran on, so the bench measured itself as much as the platform.
/// </summary>
internal sealed class HostileAttack
{
    /// <summary>
    /// The attacker's open-loop rate over its HTTP attacks (the raw-socket ones come on top): four times the real
    /// traffic, fixed so the attacker cannot take both of this machine's cores by itself (then the bench would measure
    /// the machine, not the defences).
    /// </summary>
    public const double Rate = 400;

    /// <summary>Target model (a linear model of the attacker's) and the model whose output size comes from its input.</summary>
    public const string TargetModel = "target";
    public const string ExpanderModel = "expander";

    private const string ShapeBombFp64 = "shape bomb: FP64 [67108864], no data (90 B)";
    private const string ShapeBomb2d = "shape bomb: FP32 [65536,65536], one value";
    private const string MadeUpModel = "made-up model name";
    private const string MadeUpTenant = "made-up tenant in key";
    private const string WrongSecret = "real tenant, wrong secret";
    private const string HugeOutput = "output of 16 MiB asked (cap 1 MiB)";

    private static readonly byte[] Fp64Bomb = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"x","shape":[67108864],"datatype":"FP64","data":[]}]}""");
    private static readonly byte[] TwoDimensionalBomb = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"x","shape":[65536,65536],"datatype":"FP32","data":[1]}]}""");
    private static readonly byte[] HugeOutputRequest = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"shape","shape":[2],"datatype":"INT64","data":[2048,2048]}]}""");
    private static readonly MediaTypeHeaderValue JsonType = new("application/json");

    private readonly Uri _router;
    private readonly string _tenant;
    private readonly string _key;
    private readonly string _runId;
    private readonly AttackTally _tally = new();
    private readonly List<double> _latencies = [];

    public HostileAttack(Uri router, string tenant, string key, string runId)
    {
        _router = router;
        _tenant = tenant;
        _key = key;
        _runId = runId;
    }

    /// <summary>Attacks until <paramref name="cancellationToken"/>, then waits for the answers still due and reports them all.</summary>
    public async Task<AttackReport> RunAsync(CancellationToken cancellationToken)
    {
        var raw = new RawHttpAttacks(_router, $"/v2/models/{TargetModel}/versions/1/infer", _key, _tally);
        var http = HttpAsync(cancellationToken);
        var sockets = raw.RunAsync(slowConnections: 16, every: TimeSpan.FromMilliseconds(500), cancellationToken);
        await Task.WhenAll(http, sockets).ConfigureAwait(false);
        double[] latencies;
        lock (_latencies)
        {
            latencies = [.. _latencies];
        }

        return new AttackReport(_tally.Snapshot(), latencies, raw.SlowCutSeconds());
    }

    /// <summary>One POST; the status, or 0 when it failed without one.</summary>
    public static async Task<int> SendAsync(HttpClient client, Uri uri, byte[] body, string? apiKey, string? bearer, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = JsonType;
        if (apiKey is not null)
        {
            request.Headers.TryAddWithoutValidation("x-api-key", apiKey);
        }

        if (bearer is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + bearer);
        }

        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            return (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return 0;
        }
    }

    /// <summary>The HTTP attacks, open loop: request i is due at i / rate, its kind the i-th of a fixed rotation.</summary>
    private async Task HttpAsync(CancellationToken cancellationToken)
    {
        _tally.Expect(ShapeBombFp64, 400);
        _tally.Expect(ShapeBomb2d, 400);
        _tally.Expect(MadeUpModel, 404);
        _tally.Expect(MadeUpTenant, 401);
        _tally.Expect(WrongSecret, 401);
        _tally.Expect(HugeOutput, 400);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, UseProxy = false, UseCookies = false })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        var target = new Uri(_router, $"/v2/models/{TargetModel}/versions/1/infer");
        var expander = new Uri(_router, $"/v2/models/{ExpanderModel}/versions/1/infer");
        var pending = new List<Task>();
        var start = Stopwatch.GetTimestamp();
        var ticksPerRequest = Stopwatch.Frequency / Rate;
        for (long i = 0; !cancellationToken.IsCancellationRequested; i++)
        {
            var due = start + (long)(i * ticksPerRequest);
            var wait = due - Stopwatch.GetTimestamp();
            if (wait > 0)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromTicks(Math.Max(1, wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency)), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            var (kind, uri, body, key) = (i % 6) switch
            {
                0 => (ShapeBombFp64, target, Fp64Bomb, _key),
                1 => (MadeUpModel, new Uri(_router, string.Create(CultureInfo.InvariantCulture, $"/v2/models/made-up-{_runId}-{i}/infer")), BenchModels.LinearRequest, _key),
                2 => (MadeUpTenant, target, BenchModels.LinearRequest, string.Create(CultureInfo.InvariantCulture, $"nobody-{_runId}-{i}.x")),
                3 => (ShapeBomb2d, target, TwoDimensionalBomb, _key),
                4 => (WrongSecret, target, BenchModels.LinearRequest, _tenant + ".not-the-secret"),
                _ => (HugeOutput, expander, HugeOutputRequest, _key),
            };
            pending.Add(SendTimedAsync(client, kind, uri, body, key, due));
            if (pending.Count > 4096)
            {
                pending.RemoveAll(t => t.IsCompleted);
            }
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    private async Task SendTimedAsync(HttpClient client, string kind, Uri uri, byte[] body, string key, long due)
    {
        await Task.Yield();
        var status = await SendAsync(client, uri, body, null, key, CancellationToken.None).ConfigureAwait(false);
        _tally.Record(kind, status);
        var ms = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
        lock (_latencies)
        {
            _latencies.Add(ms);
        }
    }
}
