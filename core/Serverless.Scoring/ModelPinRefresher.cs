using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Sharding;

namespace Serverless.Scoring;

/// <summary>
/// Re-reads the pins every <see cref="ShardOptions.PinRefreshSeconds"/> once the shard is ready (the warm-up at start
/// did the first read), so a pin or unpin reaches the model's replicas within that time, and a pinned model whose
/// alias moved is pinned at its new version.
/// </summary>
public sealed partial class ModelPinRefresher : BackgroundService
{
    private readonly ModelPins _pins;
    private readonly ShardOptions _options;
    private readonly ILogger<ModelPinRefresher> _logger;

    public ModelPinRefresher(ModelPins pins, IOptions<ShardOptions> options, ILogger<ModelPinRefresher> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _pins = pins;
        _options = options.Value;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.PinRefreshSeconds));
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await _pins.RefreshAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Storage away or a load failing: the pins in effect stay; the next tick tries again.
                LogRefreshFailed(e);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not refresh the pinned models; the pins in effect stay")]
    private partial void LogRefreshFailed(Exception exception);
}
