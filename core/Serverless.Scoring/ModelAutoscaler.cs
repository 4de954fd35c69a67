using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Registry;
using Serverless.Scoring;
using Serverless.Core.Sharding;
using Serverless.Core.Tenancy;
using Serverless.Core.Placement;

namespace Serverless.Scoring;

/// <summary>
/// Per-model scaling, run by every shard for the models it is the primary replica of (so exactly one
/// shard decides for each model, without coordination): every few seconds it turns the requests it
/// served, and the time they were being served, into a rate, a mean concurrency and the model's share of the
/// process's CPU, estimates the model's totals (requests are spread evenly over the replicas), and lets <see cref="ScalingPolicy"/> decide the replica count; a change is written to the model's
/// placement row with ETag concurrency. Replicas come first from the tenant's shuffle shard, then beyond it.
/// </summary>
public sealed partial class ModelAutoscaler : BackgroundService
{
    private readonly ModelTraffic _traffic;
    private readonly HotModelTracker _hotModels;
    private readonly ReplicaResolver _replicas;
    private readonly PlacementStore _placements;
    private readonly TenantStore _tenants;
    private readonly ModelRegistry _registry;
    private readonly ScalingPolicy _policy;
    private readonly ScalingOptions _scaling;
    private readonly ShardOptions _shard;
    private readonly TimeProvider _time;
    private readonly ILogger<ModelAutoscaler> _logger;
    private readonly Dictionary<(string Tenant, string Model), DateTimeOffset> _below = [];
    private readonly HashSet<(string Tenant, string Model)> _scaled = [];

    public ModelAutoscaler(ModelTraffic traffic, HotModelTracker hotModels, ReplicaResolver replicas, PlacementStore placements, TenantStore tenants, ModelRegistry registry, IOptions<ScalingOptions> scaling, IOptions<ShardOptions> shard, TimeProvider time, ILogger<ModelAutoscaler> logger)
    {
        _traffic = traffic;
        _hotModels = hotModels;
        _replicas = replicas;
        _placements = placements;
        _tenants = tenants;
        _registry = registry;
        _scaling = scaling.Value;
        _policy = new ScalingPolicy(_scaling);
        _shard = shard.Value;
        _time = time;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(_scaling.IntervalSeconds);
        using var timer = new PeriodicTimer(interval, _time);
        var last = _time.GetTimestamp();
        var lastCpu = Environment.CpuUsage.TotalTime;
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            var now = _time.GetTimestamp();
            var seconds = Math.Max(0.001, _time.GetElapsedTime(last, now).TotalSeconds);
            last = now;
            var cpu = Environment.CpuUsage.TotalTime;
            // The share of this instance's cores the process used over the interval.
            var utilization = Math.Clamp((cpu - lastCpu).TotalSeconds / (seconds * Environment.ProcessorCount), 0, 1);
            lastCpu = cpu;
            try
            {
                var traffic = _traffic.TakeSnapshot();
                _hotModels.Add(traffic);
                await EvaluateAsync(traffic, seconds, utilization, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Storage briefly away: scaling waits for the next tick; serving is unaffected.
                LogScalingFailed(e);
            }
        }
    }

    /// <summary>One look at the traffic: decide for each model this shard is the primary of.</summary>
    internal async Task EvaluateAsync(IReadOnlyDictionary<(string Tenant, string Model), ModelTrafficSample> traffic, double seconds, double processUtilization, CancellationToken cancellationToken)
    {
        var models = new HashSet<(string Tenant, string Model)>(traffic.Keys);
        models.UnionWith(_scaled);
        var (totalRequests, totalBusy) = (0L, 0.0);
        foreach (var sample in traffic.Values)
        {
            totalRequests += sample.Requests;
            totalBusy += sample.BusySeconds;
        }

        foreach (var key in models)
        {
            var entry = await _registry.ResolveAsync(key.Tenant, key.Model, null, cancellationToken).ConfigureAwait(false);
            if (entry is null)
            {
                _scaled.Remove(key);
                continue;
            }

            var k = await _tenants.GetShuffleShardSizeAsync(key.Tenant, cancellationToken).ConfigureAwait(false);
            var replicas = await _replicas.ResolveAsync(key.Tenant, k, key.Model, entry.Pool, cancellationToken).ConfigureAwait(false);
            if (replicas.Count == 0 || replicas[0].Id != _shard.Id)
            {
                continue;
            }

            // The model's totals: this replica's figures times the replica count (requests are spread evenly). Its part
            // of the process's CPU is its share of the time requests were being served (a heavier model costs more
            // per request), or of the requests when none took measurable time.
            var current = replicas.Count;
            var sample = traffic.GetValueOrDefault(key);
            var share = totalBusy > 0 ? sample.BusySeconds / totalBusy : totalRequests > 0 ? (double)sample.Requests / totalRequests : 0;
            var total = sample.Requests / seconds * current;
            var totalConcurrency = sample.BusySeconds / seconds * current;
            var totalUtilization = processUtilization * share * current;
            var now = _time.GetUtcNow();
            if (_policy.ReplicasFor(total, totalConcurrency, totalUtilization) < current)
            {
                _below.TryAdd(key, now);
            }
            else
            {
                _below.Remove(key);
            }

            var wanted = _policy.Decide(total, totalConcurrency, totalUtilization, current, _below.TryGetValue(key, out var since) ? now - since : TimeSpan.Zero);
            if (wanted != current)
            {
                await _placements.SetReplicasAsync(key.Tenant, key.Model, wanted, Reason(total, totalConcurrency, totalUtilization), cancellationToken).ConfigureAwait(false);
                _below.Remove(key);
                LogScaled(key.Tenant, key.Model, current, wanted, total, totalConcurrency, totalUtilization);
            }

            if (wanted > 1)
            {
                _scaled.Add(key);
            }
            else
            {
                _scaled.Remove(key);
            }
        }
    }

    private string Reason(double rate, double concurrency, double utilization)
    {
        var reason = FormattableString.Invariant($"autoscale: {rate:F0} req/s, {concurrency:F2} in flight at {_scaling.ConcurrencyPerReplica:0.###} per replica, {utilization:F2} replicas' CPU at {_scaling.UtilizationPerReplica:0.##} each");
        return _scaling.RequestsPerReplica > 0 ? reason + FormattableString.Invariant($" or {_scaling.RequestsPerReplica:F0} req/s per replica") : reason;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scaled {Tenant}/{Model} from {From} to {To} replicas ({Rate:F1} req/s, {Concurrency:F2} in flight, {Utilization:F2} replicas' CPU)")]
    private partial void LogScaled(string tenant, string model, int from, int to, double rate, double concurrency, double utilization);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Per-model scaling failed; trying again on the next tick")]
    private partial void LogScalingFailed(Exception exception);
}
