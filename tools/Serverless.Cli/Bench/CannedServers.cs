using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Serverless.Cli.Cluster;

namespace Serverless.Cli.Bench;

/// <summary>
/// The HTTP floors, in the bench process on loopback: a bare Kestrel endpoint that reads the body and
/// answers a canned v2 answer (one hop), and a forwarder that reads the body as bytes and forwards it
/// with a pooled <see cref="HttpClient"/> to the canned endpoint, copying the answer back (two hops:
/// what the router does, without authentication, placement or anything else).
/// </summary>
internal sealed class CannedServers : IAsyncDisposable
{
    private const string InferPath = "/v2/models/{model}/versions/{version}/infer";
    private readonly WebApplication _canned;
    private readonly WebApplication _forwarder;
    private readonly HttpClient _forwardClient;

    private CannedServers(WebApplication canned, WebApplication forwarder, HttpClient forwardClient, Uri oneHop, Uri twoHop)
    {
        _canned = canned;
        _forwarder = forwarder;
        _forwardClient = forwardClient;
        OneHopUri = oneHop;
        TwoHopUri = twoHop;
    }

    public Uri OneHopUri { get; }

    public Uri TwoHopUri { get; }

    public static async Task<CannedServers> StartAsync(byte[] cannedAnswer, CancellationToken cancellationToken)
    {
        var cannedPort = Azurite.FreePort();
        var canned = Build(cannedPort);
        canned.MapPost(InferPath, async context =>
        {
            await DrainAsync(context.Request).ConfigureAwait(false);
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = cannedAnswer.Length;
            await context.Response.Body.WriteAsync(cannedAnswer, context.RequestAborted).ConfigureAwait(false);
        });

        var cannedBase = new Uri($"http://127.0.0.1:{cannedPort}");
        var forwardClient = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 256,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
        })
        { Timeout = TimeSpan.FromSeconds(30) };
        var forwarderPort = Azurite.FreePort();
        var forwarder = Build(forwarderPort);
        forwarder.MapPost(InferPath, async context =>
        {
            var body = await ReadBodyAsync(context.Request).ConfigureAwait(false);
            using var forward = new HttpRequestMessage(HttpMethod.Post, new Uri(cannedBase, context.Request.Path.Value));
            forward.Content = new ByteArrayContent(body);
            forward.Content.Headers.TryAddWithoutValidation("content-type", "application/json");
            using var answer = await forwardClient.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted).ConfigureAwait(false);
            var bytes = await answer.Content.ReadAsByteArrayAsync(context.RequestAborted).ConfigureAwait(false);
            context.Response.StatusCode = (int)answer.StatusCode;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = bytes.Length;
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
        });

        await canned.StartAsync(cancellationToken).ConfigureAwait(false);
        await forwarder.StartAsync(cancellationToken).ConfigureAwait(false);
        const string path = "/v2/models/demo-linear/versions/1/infer";
        return new CannedServers(canned, forwarder, forwardClient, new Uri(cannedBase, path), new Uri($"http://127.0.0.1:{forwarderPort}{path}"));
    }

    public async ValueTask DisposeAsync()
    {
        await _forwarder.StopAsync().ConfigureAwait(false);
        await _canned.StopAsync().ConfigureAwait(false);
        await _forwarder.DisposeAsync().ConfigureAwait(false);
        await _canned.DisposeAsync().ConfigureAwait(false);
        _forwardClient.Dispose();
    }

    private static WebApplication Build(int port)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        return builder.Build();
    }

    private static async Task DrainAsync(HttpRequest request)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted).ConfigureAwait(false) > 0)
            {
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        if (request.ContentLength is { } length and <= 16 * 1024 * 1024)
        {
            var body = new byte[length];
            var read = 0;
            while (read < body.Length)
            {
                var n = await request.Body.ReadAsync(body.AsMemory(read), request.HttpContext.RequestAborted).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            return body;
        }

        using var copy = new MemoryStream();
        await request.Body.CopyToAsync(copy, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return copy.ToArray();
    }
}
