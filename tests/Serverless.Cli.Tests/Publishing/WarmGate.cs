namespace Serverless.Cli.Tests.Publishing;

/// <summary>
/// Stands in for the shards' load endpoint during an alias move's warm-up: it says when a warm-up has begun and holds
/// it until released, so a test can run a delete exactly inside the wait (the window an operator's `delete` hits).
/// </summary>
public sealed class WarmGate
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="open">True: warm-ups pass at once (only counted).</param>
    public WarmGate(bool open)
    {
        if (open)
        {
            _released.SetResult();
        }
    }

    /// <summary>Completes when the first warm-up reaches the gate.</summary>
    public Task Entered => _entered.Task;

    public void Release() => _released.TrySetResult();

    /// <summary>Answers a warm-up request as a shard would (200, loaded) once the gate is open.</summary>
    public async Task<HttpResponseMessage> PassAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _entered.TrySetResult();
        await _released.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new HttpResponseMessage(System.Net.HttpStatusCode.OK) { RequestMessage = request };
    }
}
