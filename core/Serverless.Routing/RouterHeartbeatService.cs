using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serverless.Core.Sharding;

namespace Serverless.Routing;

/// <summary>
/// Announces this router instance in Table <c>shards</c> (partition <see cref="RouterInstances.Pool"/>) every few
/// seconds and counts the live instances, so each applies its share of every tenant's quota; removes its row on a
/// clean stop, so the others take up its share at their next beat rather than after three missed beats.
/// </summary>
public sealed partial class RouterHeartbeatService : BackgroundService
{
    private static readonly Uri Placeholder = new("https://router.invalid/");
    private static readonly TimeSpan RemoveAfter = TimeSpan.FromMinutes(10);
    private readonly ShardDirectory _directory;
    private readonly RouterInstances _instances;
    private readonly TimeProvider _time;
    private readonly ILogger<RouterHeartbeatService> _logger;

    public RouterHeartbeatService(ShardDirectory directory, RouterInstances instances, TimeProvider time, ILogger<RouterHeartbeatService> logger)
    {
        _directory = directory;
        _instances = instances;
        _time = time;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(RouterInstances.HeartbeatSeconds), _time);
        do
        {
            try
            {
                await _directory.HeartbeatAsync(RouterInstances.Pool, _instances.InstanceId, Placeholder, ShardStates.Active, null, RouterInstances.HeartbeatSeconds, stoppingToken).ConfigureAwait(false);
                var rows = await _directory.ListAsync(RouterInstances.Pool, stoppingToken).ConfigureAwait(false);
                var before = _instances.Count;
                var now = _time.GetUtcNow();
                _instances.Update(rows, now);
                await RemoveLongGoneAsync(rows, now, stoppingToken).ConfigureAwait(false);
                if (_instances.Count != before)
                {
                    LogInstances(_instances.Count);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Storage away: the last count stands (RouterInstances), the router goes on serving.
                LogHeartbeatFailed(e, _instances.InstanceId);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _directory.RemoveAsync(RouterInstances.Pool, _instances.InstanceId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogHeartbeatFailed(e, _instances.InstanceId);
        }
    }

    // Instances that were killed never remove their rows, and a scaled-out router gets new instance ids: without
    // this the partition would grow with every instance ever started.
    private async Task RemoveLongGoneAsync(IReadOnlyList<ShardEntity> rows, DateTimeOffset now, CancellationToken cancellationToken)
    {
        foreach (var row in rows)
        {
            if (row.RowKey != _instances.InstanceId && row.LastHeartbeat < now - RemoveAfter)
            {
                await _directory.RemoveAsync(RouterInstances.Pool, row.RowKey, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} router instance(s) live: each applies 1/{Count} of every tenant's quota")]
    private partial void LogInstances(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Router instance {InstanceId} could not renew its row in Table shards")]
    private partial void LogHeartbeatFailed(Exception exception, string instanceId);
}
