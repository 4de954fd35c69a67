using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Scoring;
using Serverless.Core.Sharding;

namespace Serverless.Scoring;

/// <summary>
/// Registers the shard in Table <c>shards</c> and renews its row every few seconds, so the router finds
/// it and passes it over once it stops. A hosted service, so it runs the same under the Functions host
/// and the local host.
/// </summary>
public sealed partial class ShardHeartbeatService : BackgroundService
{
    private readonly ShardDirectory _directory;
    private readonly ShardOptions _options;
    private readonly ILogger<ShardHeartbeatService> _logger;
    private volatile bool _draining;

    private readonly HotModelTracker _hotModels;

    public ShardHeartbeatService(ShardDirectory directory, HotModelTracker hotModels, IOptions<ShardOptions> options, IHostApplicationLifetime lifetime, ILogger<ShardHeartbeatService> logger)
    {
        _directory = directory;
        _hotModels = hotModels;
        _options = options.Value;
        _logger = logger;
        // ApplicationStopping callbacks run before the server stops accepting requests: blocking here
        // keeps the shard serving while the routers learn it is draining and move its models.
        lifetime.ApplicationStopping.Register(Drain);
    }

    private string State => _draining ? ShardStates.Draining : ShardStates.Active;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.HeartbeatSeconds));
        do
        {
            try
            {
                await _directory.HeartbeatAsync(_options.Pool, _options.Id, _options.BaseUrl!, State, _hotModels.Top(), _options.HeartbeatSeconds, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Storage briefly away must not stop the shard serving resident models.
                LogHeartbeatFailed(e, _options.Id);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Kept, not deleted: the row carries the hot-model list the next instance prewarms.
            await _directory.HeartbeatAsync(_options.Pool, _options.Id, _options.BaseUrl!, ShardStates.Stopped, _hotModels.Top(), _options.HeartbeatSeconds, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogHeartbeatFailed(e, _options.Id);
        }
    }

    private void Drain()
    {
        if (_options.DrainSeconds == 0)
        {
            return;
        }

        _draining = true;
        LogDraining(_options.Id, _options.DrainSeconds);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            _directory.HeartbeatAsync(_options.Pool, _options.Id, _options.BaseUrl!, ShardStates.Draining, null, _options.HeartbeatSeconds, timeout.Token).GetAwaiter().GetResult();
            Thread.Sleep(TimeSpan.FromSeconds(_options.DrainSeconds));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogHeartbeatFailed(e, _options.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {ShardId} is draining for {Seconds} s before it stops")]
    private partial void LogDraining(string shardId, int seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {ShardId} could not renew its row in Table shards")]
    private partial void LogHeartbeatFailed(Exception exception, string shardId);
}
