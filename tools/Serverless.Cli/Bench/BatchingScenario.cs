using System.Globalization;
using System.Text;

namespace Serverless.Cli.Bench;

/// <summary>
/// <c>batching</c>: the same ~8 MiB MLP published twice, once plain and once with <c>dynamicBatching</c> in
/// its model.json, each driven closed-loop straight at its shard; throughput and latency side by side.
/// It runs on a one-shard cluster of its own with a cache budget that holds both models, so neither is
/// ever evicted (the x-cache hit rate is in the notes) and both share the same process and cores.
/// </summary>
internal sealed class BatchingScenario
{
    /// <summary>Triton's defaults are 0 delay; a millisecond is short next to the HTTP hop and fills batches under load.</summary>
    public const int MaxQueueDelayUs = 1000;
    public const int PreferredBatchSize = 16;

    private readonly BenchOptions _options;
    private readonly Action<string> _log;

    public BatchingScenario(BenchOptions options, Action<string> log)
    {
        _options = options;
        _log = log;
    }

    public async Task<IReadOnlyList<ScenarioResult>> RunAsync(HttpLoadGenerator generator, CancellationToken cancellationToken)
    {
        _log("batching: starting a one-shard cluster of its own (cache budget 256 MiB)…");
        await using var cluster = await BenchCluster.OpenAsync(reuse: false, 1, 256L * 1024 * 1024, _log, cancellationToken).ConfigureAwait(false);
        const string Plain = "mlp-plain";
        const string Batched = "mlp-batched";
        var model = BenchModels.Mlp(42);
        var manifest = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$$"""{"description":"bench MLP, dynamic batching","dynamicBatching":{"maxQueueDelayUs":{{{MaxQueueDelayUs}}},"preferredBatchSize":{{{PreferredBatchSize}}}}}"""));
        _log($"batching: publishing the MLP ({model.Length:N0} bytes) as {Plain} and, with dynamicBatching, as {Batched}…");
        await cluster.PublishAsync(BenchCluster.Tenant, [Plain], _ => model, null, 1, _log, cancellationToken).ConfigureAwait(false);
        await cluster.PublishAsync(BenchCluster.Tenant, [Batched], _ => model, manifest, 1, _log, cancellationToken).ConfigureAwait(false);

        var body = BenchModels.MlpRequest();
        var duration = TimeSpan.FromSeconds(_options.DurationSeconds);
        var warmup = TimeSpan.FromSeconds(_options.WarmupSeconds);
        var mode = $"closed-loop, {_options.Connections} conn, batch-1 requests, shard direct";
        var results = new List<ScenarioResult>(2);
        foreach (var (name, id, label) in new[] { (Plain, "batching-off", "batching off"), (Batched, "batching-on", "batching on") })
        {
            var shard = await cluster.ShardUrlAsync(generator.Client, name, cancellationToken).ConfigureAwait(false);
            var uri = new Uri(shard, $"/v2/models/{name}/versions/1/infer");
            var (status, _, _) = await generator.SendOnceAsync(uri, body, cluster.ApiKey, cancellationToken).ConfigureAwait(false);
            if (status != 200)
            {
                throw new InvalidOperationException($"{uri} answered {status} to its first request");
            }

            _log($"batching: {label}, {mode}…");
            var run = await generator.ClosedLoopAsync(new LoadTarget([uri], body, cluster.ApiKey), warmup, duration, cancellationToken).ConfigureAwait(false);
            var result = run.ToResult(id, label, mode);
            result.Notes["x-cache"] = string.Create(CultureInfo.InvariantCulture, $"{run.Hits:N0} hit, {run.Misses:N0} miss");
            result.Notes["model"] = $"MLP 256→4096→256 FP32, {model.Length:N0} bytes";
            if (name == Batched)
            {
                result.Notes["dynamicBatching"] = $"maxQueueDelayUs {MaxQueueDelayUs}, preferredBatchSize {PreferredBatchSize}";
            }

            results.Add(result);
        }

        if (results[0].Throughput > 0)
        {
            var gain = results[1].Throughput / results[0].Throughput;
            results[1].Metrics["throughput_gain"] = gain;
            results[1].Notes["throughput vs off"] = string.Create(CultureInfo.InvariantCulture, $"{gain:0.00}×");
        }

        return results;
    }
}
