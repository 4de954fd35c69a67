namespace Serverless.Cli.Tests.Publishing;

/// <summary>The shard HTTP client's last handler in a test: every call goes to the <see cref="WarmGate"/>, none to a shard.</summary>
public sealed class WarmGateHandler(WarmGate gate) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        gate.PassAsync(request, cancellationToken);
}
