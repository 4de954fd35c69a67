using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Serverless.Core.Registry;

/// <summary>Reads the registry epochs once a second for as long as the app runs (<see cref="RegistryEpochs"/>).</summary>
public sealed partial class RegistryEpochPoller : BackgroundService
{
    private readonly RegistryEpochs _epochs;
    private readonly TimeProvider _time;
    private readonly ILogger<RegistryEpochPoller> _logger;

    public RegistryEpochPoller(RegistryEpochs epochs, TimeProvider time, ILogger<RegistryEpochPoller> logger)
    {
        _epochs = epochs;
        _time = time;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RegistryEpochs.PollInterval, _time);
        var failing = false;
        do
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(RegistryEpochs.HealthyFor);
                await _epochs.PollAsync(timeout.Token).ConfigureAwait(false);
                if (failing)
                {
                    LogRecovered();
                    failing = false;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Storage away or slow: the epochs go stale by themselves, and reads use their freshness window.
                if (!failing)
                {
                    LogFailing(e);
                    failing = true;
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the registry epochs; registry reads fall back to their 2 s freshness until it works again")]
    private partial void LogFailing(Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reading the registry epochs again")]
    private partial void LogRecovered();
}
