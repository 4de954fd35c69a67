using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.RateLimiting;
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
    private readonly RequestMemoryBudget _requestMemory;
    private readonly PartitionedRateLimiter<string> _tenantRuns;
    private readonly int _tenantRunLimit;
    private readonly int _tenantQueueLimit;
    private readonly long _defaultMaxOutputBytes;

    /// <summary>The most rows one dynamic batch stacks when the model sets no maxBatch.</summary>
    public const int MaxBatchRows = 1024;
    private readonly ILogger<ScoringService> _logger;
    private readonly Histogram<double> _latency;
    private readonly ServerlessMetrics _metrics;

    public ScoringService(ModelCatalog catalog, SessionCache cache, ModelLoader loader, ModelTraffic traffic, TimeProvider time, ILogger<ScoringService> logger, IMeterFactory meterFactory, ServerlessMetrics metrics, MemoryPressureMonitor memory, RequestMemoryBudget requestMemory, IOptions<ShardOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _requestMemory = requestMemory;
        _defaultMaxOutputBytes = options.Value.DefaultMaxOutputBytes;
        _tenantRunLimit = options.Value.EffectiveConcurrentRunsPerTenant;
        _tenantQueueLimit = options.Value.MaxQueuedRunsPerTenant;
        // Keyed by authenticated tenants only (the caller was checked before), so the partitions are bounded by the
        // tenant table; idle ones are dropped by the limiter itself.
        _tenantRuns = PartitionedRateLimiter.Create<string, string>(tenant => RateLimitPartition.GetConcurrencyLimiter(tenant, _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = _tenantRunLimit,
            QueueLimit = _tenantQueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }), StringComparer.Ordinal);
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
    public Task<ServingResult> InferAsync(string tenant, string model, string? version, ReadOnlyMemory<byte> body, string? routedSha256, CancellationToken cancellationToken) =>
        InferAsync(tenant, model, version, body, routedSha256, memory: null, cancellationToken);

    /// <summary>
    /// Opens a request's account in the shard's memory budget, holding its declared body length: before the body is
    /// read, so a shard full of requests in flight refuses the next with 503 before it buffers anything.
    /// </summary>
    public RequestMemory OpenRequestMemory(long declaredBodyBytes) => _requestMemory.Open(declaredBodyBytes);

    /// <summary>
    /// Runs one v2 inference request, taking its decoded tensors from <paramref name="memory"/> (the request's
    /// account, opened by <see cref="OpenRequestMemory"/>) before they are allocated. The run is stopped
    /// (<see cref="RunOptions.Terminate"/>) when <paramref name="cancellationToken"/> fires: the caller went away or its
    /// deadline passed.
    /// </summary>
    public async Task<ServingResult> InferAsync(string tenant, string model, string? version, ReadOnlyMemory<byte> body, string? routedSha256, RequestMemory? memory, CancellationToken cancellationToken)
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
            var resolved = Stopwatch.GetTimestamp();
            servedModel = entry.Model;
            var request = InferenceRequestParser.Parse(body, memory);
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
            if (!lease.CacheHit)
            {
                LogMissPhases(entry.Model, Stopwatch.GetElapsedTime(started, resolved).TotalMilliseconds, Stopwatch.GetElapsedTime(resolved, servingSince).TotalMilliseconds, session.LoadPhases.ReadMs, session.LoadPhases.CreateMs);
            }

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
                TakeBatchCopies(memory, request);
                var settings = new BatchingSettings(TimeSpan.FromMicroseconds(entry.BatchMaxQueueDelayUs), Math.Max(1, entry.BatchPreferredSize), entry.MaxBatch > 0 ? entry.MaxBatch : MaxBatchRows, Environment.ProcessorCount);
                var answer = await session.GetOrCreateBatcher(settings, _time).RunAsync(request, outputNames, model, entry.Version, entry.MaxOutputBytes > 0 ? entry.MaxOutputBytes : _defaultMaxOutputBytes, entry.MaxOutputBytes > 0, cancellationToken).ConfigureAwait(false);
                return new ServingResult(answer, null, entry.Version) { CacheHit = lease.CacheHit, LoadSource = lease.CacheHit ? null : session.LoadSource };
            }

            // One tenant's runs hold at most a bounded share of the shard's threads (all its models together); a
            // batched model's runs are bounded by its batcher's run slots instead (a tenant permit per queued row
            // would cap every batch at the tenant's limit).
            using var tenantPermit = _tenantRuns.AttemptAcquire(tenant) is { IsAcquired: true } free ? free : await _tenantRuns.AcquireAsync(tenant, 1, cancellationToken).ConfigureAwait(false);
            if (!tenantPermit.IsAcquired)
            {
                return new ServingResult([], ServingError.RateLimited($"tenant '{tenant}' has {_tenantRunLimit} runs going and {_tenantQueueLimit} waiting on this shard (Shard__MaxConcurrentRunsPerTenant, Shard__MaxQueuedRunsPerTenant); retry shortly", ServingError.DefaultRetryAfter), entry.Version) { CacheHit = lease.CacheHit };
            }

            var inputs = TensorCodec.CreateInputs(session, request, out var inputNames);
            try
            {
                using var runOptions = new RunOptions();
                using var outputs = Run(session, runOptions, inputNames, inputs, outputNames, cancellationToken);
                TensorCodec.CheckOutputSize(model, outputNames, outputs, 1, entry.MaxOutputBytes > 0 ? entry.MaxOutputBytes : _defaultMaxOutputBytes, entry.MaxOutputBytes > 0);
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

    private IDisposableReadOnlyCollection<OrtValue> Run(ModelSession session, RunOptions runOptions, string[] inputNames, OrtValue[] inputs, string[] outputNames, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        // The run holds this thread until it returns: when the request gives up (the caller went away, its deadline
        // passed) ONNX Runtime is told to stop at its next node, so a runaway model frees the thread.
        using var stop = cancellationToken.CanBeCanceled ? cancellationToken.UnsafeRegister(static o => ((RunOptions)o!).Terminate = true, runOptions) : default;
        try
        {
            return session.Session.Run(runOptions, inputNames, inputs, outputNames);
        }
        catch (OnnxRuntimeException e) when (runOptions.Terminate)
        {
            var ranMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            LogRunTerminated(session.Model, session.Version, ranMs);
            throw new ServingException(ServingError.DeadlineExceeded(string.Create(CultureInfo.InvariantCulture, $"model '{session.Model}' was stopped after running {ranMs} ms: the request gave up (its deadline passed or its caller went away)")), e);
        }
        catch (OnnxRuntimeException e) when (RunMemoryRefusal.From(e, session.Model, session.RunMemoryBytes) is { } refusal)
        {
            throw new ServingException(refusal, e);
        }
        catch (OnnxRuntimeException e)
        {
            // Shapes and types were checked, so this is the model failing on valid input (e.g. a
            // dimension it cannot broadcast): a 500 naming the reason, and the process lives on.
            LogRunFailed(e, session.Model, session.Version);
            throw new ServingException(ServingError.ModelFailed($"model '{session.Model}' failed to run: {e.Message}"), e);
        }
    }

    /// <summary>A batched request's inputs are copied once more into the batch's stacked tensors: that copy counts too.</summary>
    private static void TakeBatchCopies(RequestMemory? memory, InferenceRequest request)
    {
        if (memory is null)
        {
            return;
        }

        foreach (var input in request.Inputs)
        {
            memory.TakeBatchCopy(InferenceRequestParser.DecodedBytes(input.ElementType, input.Data.Length, 0), input.Name);
        }
    }

    internal static string CacheKey(ModelVersionEntity entry) => CacheKey(entry.PartitionKey, entry.Version, entry.Sha256);

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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Miss {Model}: resolved in {ResolveMs:F1} ms, leased in {LeaseMs:F1} ms (its load: read {ReadMs:F1} ms, session {CreateMs:F1} ms)")]
    private partial void LogMissPhases(string model, double resolveMs, double leaseMs, double readMs, double createMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not loading model {Model}: {Resident} bytes resident, over the limit of {Limit}")]
    private partial void LogShedUnderPressure(string model, long resident, long limit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} could not be loaded: storage is unreachable")]
    private partial void LogLoadUnavailable(Exception exception, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} version {Version} was stopped after {RanMs} ms: its request gave up")]
    private partial void LogRunTerminated(string model, string version, long ranMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} version {Version} failed to run")]
    private partial void LogRunFailed(Exception exception, string model, string version);
}
