using Microsoft.Extensions.Hosting;

namespace Serverless.Core.Observability;

/// <summary>Starts listening to the cache counters when the app starts, before any prewarm loads.</summary>
internal sealed class ObservabilityStartup : IHostedService
{
    public ObservabilityStartup(ShardMeterTotals totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
