using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Serverless.Core.Naming;
using Serverless.Core.Observability;
using Serverless.Core.Protocol;
using Serverless.Core.Registry;
using Serverless.Core.Sharding;
using Serverless.Core.Storage;
using Serverless.Core.Serving;

namespace Serverless.Scoring;

/// <summary>
/// The shard's v2 endpoints: resolve the version in the registry, lease the session from the cache
/// (loading it once on a miss), decode, run, encode. Bad input is a 4xx naming the problem; a failing
/// model is a 500 with the reason; neither harms the process.
/// </summary>
public sealed partial class ScoringService
{
    private readonly MemoryPressureMonitor _memory;
    private readonly int _maxConcurrent;
    private readonly int _maxQueued;
    private readonly ModelCatalog _catalog;
    private readonly SessionCache _cache;
    private readonly ModelLoader _loader;
    private readonly ModelTraffic _traffic;
    private readonly TimeProvider _time;

    /// <summary>The most rows one dynamic batch stacks when the model sets no maxBatch.</summary>
    public const int MaxBatchRows = 1024;
    private readonly ILogger<ScoringService> _logger;
    private readonly Histogram<double> _latency;
    private readonly ServerlessMetrics _metrics;

    public ScoringService(ModelCatalog catalog, SessionCache cache, ModelLoader loader, ModelTraffic traffic, TimeProvider time, ILogger<ScoringService> logger, IMeterFactory meterFactory, ServerlessMetrics metrics, MemoryPressureMonitor memory, IOptions<ShardOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _memory = memory;
        _maxConcurrent = options.Value.MaxConcurrentRequestsPerModel;
        _maxQueued = options.Value.MaxQueuedRequestsPerModel;
        _metrics = metrics;
        _catalog = catalog;
        _cache = cache;
        _loader = loader;
        _traffic = traffic;
        _time = time;
        _logger = logger;
        _latency = meterFactory.Create("Serverless.Shard").CreateHistogram<double>("serverless.infer.duration", "ms");
    }

    /// <summary>Runs one v2 inference request for a tenant's model.</summary>
    public Task<ServingResult> InferAsync(string tenant, string model, string? version, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        InferAsync(tenant, model, version, body, routedSha256: null, cancellationToken);

    /// <summary>
    /// Runs one v2 inference request; <paramref name="routedSha256"/> is the hash of the version the router
    /// resolved in the registry itself when it sent the request (internal key): a kept row of that version with
    /// that hash is used without a read.
    /// </summary>
    public async Task<ServingResult> InferAsync(string tenant, string model, string? version, ReadOnlyMemory<byte> body, string? routedSha256, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        string? servedModel = null;
        long servingSince = 0;
        try
        {
            var resolving = _catalog.ResolveAsync(tenant, model, version, routedSha256, cancellationToken);
            if (!resolving.IsCompleted && routedSha256 is not null && version is not null)
            {
                ReadAheadOfRegistry(tenant, model, version, routedSha256);
            }

            var entry = await resolving.ConfigureAwait(false);
            servedModel = entry.Model;
            var request = InferenceRequestParser.Parse(body);
            var key = CacheKey(entry);
            if (_memory.IsUnderPressure() && !_cache.Contains(key))
            {
                LogShedUnderPressure(model, _memory.ResidentBytes, _memory.LimitBytes);
                return ServingResult.Failure(ServingError.Unavailable($"shard is under memory pressure ({_memory.ResidentBytes / (1024 * 1024)} MiB resident, limit {_memory.LimitBytes / (1024 * 1024)} MiB) and loads no new model; another replica or a retry will serve '{model}'"), version);
            }

            using var lease = await _cache.AcquireAsync(key, ct => _loader.LoadAsync(entry, ct), cancellationToken).ConfigureAwait(false);
            // Busy from here: a load is not counted (another replica would not make it faster), waiting for a
            // run slot is (that is the model outgrowing this replica).
            servingSince = Stopwatch.GetTimestamp();
            var session = lease.Session;
            var limiter = session.GetOrCreateLimiter(_maxConcurrent, _maxQueued);
            using var permit = limiter.AttemptAcquire() is { IsAcquired: true } now ? now : await limiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
            if (!permit.IsAcquired)
            {
                return new ServingResult([], ServingError.RateLimited($"model '{model}' has {_maxConcurrent} requests running and {_maxQueued} waiting on this shard (Shard__MaxConcurrentRequestsPerModel, Shard__MaxQueuedRequestsPerModel); retry shortly", ServingError.DefaultRetryAfter), entry.Version) { CacheHit = lease.CacheHit };
            }

            _metrics.Queued(tenant, entry.Model, lease.CacheHit, started);
            var outputNames = TensorCodec.SelectOutputs(session, request);
            if (entry.BatchMaxQueueDelayUs > 0 && DynamicBatcher.CanBatch(session))
            {
                var settings = new BatchingSettings(TimeSpan.FromMicroseconds(entry.BatchMaxQueueDelayUs), Math.Max(1, entry.BatchPreferredSize), entry.MaxBatch > 0 ? entry.MaxBatch : MaxBatchRows, Environment.ProcessorCount);
                var answer = await session.GetOrCreateBatcher(settings, _time).RunAsync(request, outputNames, model, entry.Version, cancellationToken).ConfigureAwait(false);
                return new ServingResult(answer, null, entry.Version) { CacheHit = lease.CacheHit, LoadSource = lease.CacheHit ? null : session.LoadSource };
            }

            var inputs = TensorCodec.CreateInputs(session, request, out var inputNames);
            try
            {
                using var runOptions = new RunOptions();
                using var outputs = Run(session, runOptions, inputNames, inputs, outputNames);
                var buffer = new ArrayBufferWriter<byte>(256);
                TensorCodec.WriteResponse(buffer, model, entry.Version, request.Id, outputNames, outputs);
                return new ServingResult(buffer.WrittenSpan.ToArray(), null, entry.Version) { CacheHit = lease.CacheHit, LoadSource = lease.CacheHit ? null : session.LoadSource };
            }
            finally
            {
                foreach (var input in inputs)
                {
                    input.Dispose();
                }
            }
        }
        catch (Exception e) when (e is Azure.RequestFailedException or AggregateException && StorageFaults.IsTransient(e, cancellationToken))
        {
            // The model's bytes could not be fetched (Blob away): 503, so the router tries another replica
            // (which may hold it resident) and the caller may retry; the shard itself is fine.
            LogLoadUnavailable(e, model);
            return ServingResult.Failure(ServingError.Unavailable($"model '{model}' is not loaded on this shard and storage is unreachable right now; retry shortly"), version);
        }
        catch (ServingException e)
        {
            return ServingResult.Failure(e.Error, version);
        }
        finally
        {
            var ended = Stopwatch.GetTimestamp();
            if (servedModel is not null)
            {
                _traffic.Record(tenant, servedModel, servingSince == 0 ? 0 : ended - servingSince);
            }

            _latency.Record(Stopwatch.GetElapsedTime(started, ended).TotalMilliseconds);
        }
    }

    /// <summary>Loads a version into the cache without running it (the warm-up before an alias moves).</summary>
    public async Task<ServingResult> LoadAsync(string tenant, string model, string? version, CancellationToken cancellationToken)
    {
        try
        {
            var entry = await _catalog.ResolveAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
            // Loaded ahead of requests: until one uses it, it ranks below every used model for eviction.
            using var lease = await _cache.AcquireAsync(CacheKey(entry), ct => _loader.LoadAsync(entry, ct), SessionUse.Warmup, cancellationToken).ConfigureAwait(false);
            return new ServingResult(JsonBodies.ModelReady(new ModelReadyResponse(model, entry.Version, true)), null, entry.Version) { CacheHit = lease.CacheHit };
        }
        catch (ServingException e)
        {
            return ServingResult.Failure(e.Error, version);
        }
    }

    /// <summary>Drops a version from this shard's cache (it is disposed after its last running request).</summary>
    public async Task<ServingResult> UnloadAsync(string tenant, string model, string version, CancellationToken cancellationToken)
    {
        try
        {
            var entry = await _catalog.ResolveAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
            _cache.Remove(CacheKey(entry));
            return ServingResult.Success(JsonBodies.ModelReady(new ModelReadyResponse(model, entry.Version, false)), entry.Version);
        }
        catch (ServingException e)
        {
            return ServingResult.Failure(e.Error, version);
        }
    }

    private IDisposableReadOnlyCollection<OrtValue> Run(ModelSession session, RunOptions runOptions, string[] inputNames, OrtValue[] inputs, string[] outputNames)
    {
        try
        {
            return session.Session.Run(runOptions, inputNames, inputs, outputNames);
        }
        catch (OnnxRuntimeException e)
        {
            // Shapes and types were checked, so this is the model failing on valid input (e.g. a
            // dimension it cannot broadcast): a 500 naming the reason, and the process lives on.
            LogRunFailed(e, session.Model, session.Version);
            throw new ServingException(ServingError.ModelFailed($"model '{session.Model}' failed to run: {e.Message}"), e);
        }
    }

    private static string CacheKey(ModelVersionEntity entry) => CacheKey(entry.PartitionKey, entry.Version, entry.Sha256);

    private static string CacheKey(string modelKey, string version, string sha256) => string.Concat(modelKey, "/", version, "/", sha256);

    /// <summary>
    /// The registry is being read for a version the router resolved (a model's first request here, or one not
    /// read for a while): unless the version is resident, start reading its bytes now, from where the router's
    /// hash says they are, so the download overlaps the registry read (<see cref="ModelLoader.Prefetch"/>).
    /// </summary>
    private void ReadAheadOfRegistry(string tenant, string model, string version, string routedSha256)
    {
        // Names are valid here: the registry read checks them before it starts (a bad name completes it at once).
        if (!_cache.Contains(CacheKey(ModelNames.ModelKey(tenant, model), version, routedSha256)))
        {
            _loader.Prefetch(ModelNames.ModelBlobName(tenant, model, version, routedSha256), routedSha256);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not loading model {Model}: {Resident} bytes resident, over the limit of {Limit}")]
    private partial void LogShedUnderPressure(string model, long resident, long limit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} could not be loaded: storage is unreachable")]
    private partial void LogLoadUnavailable(Exception exception, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} version {Version} failed to run")]
    private partial void LogRunFailed(Exception exception, string model, string version);
}
