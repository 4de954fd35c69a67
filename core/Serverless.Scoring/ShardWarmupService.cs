using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Scoring;
using Serverless.Core.Sharding;

namespace Serverless.Scoring;

/// <summary>
/// Prewarm: when an instance starts, it loads the models its shard served most (the list the previous
/// instance left in the shard's row) within a time budget, and only then reports ready — so a scale-out
/// instance or a restarted one answers hot models without a cold load. The Premium plan's warmup trigger
/// runs before an instance takes traffic; this service is that step, in the host-neutral form. Models pinned resident
/// on this shard (<see cref="ModelPins"/>) are loaded first, then the hot ones.
/// </summary>
public sealed partial class ShardWarmupService : BackgroundService
{
    private readonly ShardDirectory _directory;
    private readonly ScoringService _scoring;
    private readonly ModelPins _pins;
    private readonly ShardReadiness _readiness;
    private readonly ShardOptions _options;
    private readonly ILogger<ShardWarmupService> _logger;

    public ShardWarmupService(ShardDirectory directory, ScoringService scoring, ModelPins pins, ShardReadiness readiness, IOptions<ShardOptions> options, ILogger<ShardWarmupService> logger)
    {
        _directory = directory;
        _scoring = scoring;
        _pins = pins;
        _readiness = readiness;
        _options = options.Value;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = Stopwatch.GetTimestamp();
        var loaded = 0;
        var pinned = 0;
        var hot = Array.Empty<string>();
        try
        {
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            budget.CancelAfter(TimeSpan.FromSeconds(_options.PrewarmSeconds));
            // Pinned models first: they are the ones a caller said must never wait for a load.
            _readiness.Report("prewarming pinned models");
            try
            {
                pinned = await _pins.RefreshAsync(budget.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogPrewarmFailed(e);
            }

            var row = await _directory.GetAsync(_options.Pool, _options.Id, budget.Token).ConfigureAwait(false);
            hot = (row?.HotModels ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
            foreach (var key in hot.Take(_options.PrewarmModels))
            {
                var tilde = key.IndexOf('~', StringComparison.Ordinal);
                if (tilde <= 0)
                {
                    continue;
                }

                _readiness.Report($"prewarming {loaded + 1} of {Math.Min(hot.Length, _options.PrewarmModels)} models");
                var result = await _scoring.LoadAsync(key[..tilde], key[(tilde + 1)..], null, budget.Token).ConfigureAwait(false);
                if (result.IsSuccess)
                {
                    loaded++;
                }
            }
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // Out of budget: ready with what is warm; the rest load on first use.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogPrewarmFailed(e);
        }

        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        LogPrewarmed(pinned, loaded, hot.Length, elapsed);
        _readiness.MarkReady($"prewarmed {pinned} pinned and {loaded} of {hot.Length} hot models in {elapsed:F0} ms");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Prewarmed {Pinned} pinned and {Loaded} of {Hot} hot models in {ElapsedMs:F0} ms")]
    private partial void LogPrewarmed(int pinned, int loaded, int hot, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prewarm failed; the shard starts cold")]
    private partial void LogPrewarmFailed(Exception exception);
}
