using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Serverless.Core.Naming;
using Serverless.Core.Observability;
using Serverless.Core.Registry;
using Serverless.Core.Serving;
using Serverless.Core.Sharding;
using Serverless.Core.Storage;
using Serverless.ModelBuilder;

namespace Serverless.Scoring.Tests;

/// <summary>
/// The shard's scoring service without storage: the registry's rows are known to its cache (as after a read), the
/// model's bytes are in the disk tier, and storage points at a port nothing listens on, so any read the service
/// should not make fails the test. What comes back is the error model's value, never an HTTP status.
/// </summary>
[TestClass]
public sealed class ScoringServiceTests
{
    private const string Tenant = "acme";
    private const string Model = "linear";
    private const string Body = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    // Port 9 (discard) on loopback: nothing answers, so a storage call fails at once instead of hanging.
    private const string Unreachable =
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;";

    private ServiceProvider _services = null!;
    private MemoryCache _memory = null!;
    private SessionCache _sessions = null!;
    private string _diskTier = null!;
    private long _resident;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void Initialize()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _memory = new MemoryCache(new MemoryCacheOptions());
        _diskTier = Path.Combine(Path.GetTempPath(), "scoring-service-tests-" + Guid.NewGuid().ToString("N")[..8]);
    }

    [TestCleanup]
    public void Cleanup()
    {
        _sessions?.Dispose();
        _memory.Dispose();
        _services.Dispose();
        if (Directory.Exists(_diskTier))
        {
            Directory.Delete(_diskTier, recursive: true);
        }
    }

    [TestMethod]
    public async Task Infer_LoadsFromTheDiskTierOnce_ThenServesItResident()
    {
        var scoring = await CreateAsync();

        var first = await scoring.InferAsync(Tenant, Model, "1", Encoding.UTF8.GetBytes(Body), CancellationToken.None);
        var second = await scoring.InferAsync(Tenant, Model, "1", Encoding.UTF8.GetBytes(Body), CancellationToken.None);

        Assert.IsTrue(first.IsSuccess, first.Error?.Message);
        Assert.AreEqual("1", first.ModelVersion);
        Assert.IsFalse(first.CacheHit);
        Assert.AreEqual(ModelSession.FromDisk, first.LoadSource);
        var answer = JsonNode.Parse(first.Body)!;
        Assert.AreEqual(Model, (string?)answer["model_name"]);
        Assert.AreEqual("y", (string?)answer["outputs"]![0]!["name"]);
        Assert.AreEqual(2, answer["outputs"]![0]!["data"]!.AsArray().Count);
        Assert.IsTrue(second.CacheHit);
        Assert.IsNull(second.LoadSource, "a hit loaded nothing");
        Assert.AreEqual(1, _sessions.LoadCount);
    }

    [TestMethod]
    [DataRow("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3]}]}""", "'x'", DisplayName = "too few elements")]
    [DataRow("""{"inputs":[{"name":"z","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""", "'z'", DisplayName = "an input the model does not have")]
    [DataRow("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"INT64","data":[1,2,3,4]}]}""", "FP32", DisplayName = "the wrong datatype")]
    [DataRow("""{"inputs":[""", "JSON", DisplayName = "broken JSON")]
    public async Task BadInput_IsInvalidArgument_NamingWhatIsWrong(string body, string named)
    {
        var scoring = await CreateAsync();

        var result = await scoring.InferAsync(Tenant, Model, "1", Encoding.UTF8.GetBytes(body), CancellationToken.None);

        Assert.AreEqual(ServingErrorCode.InvalidArgument, result.Error?.Code, result.Error?.Message);
        StringAssert.Contains(result.Error!.Message, named);
        Assert.IsNull(result.Error.RetryAfter, "bad input is the caller's to fix, not to retry");
    }

    [TestMethod]
    public async Task UnknownVersion_IsNotFound_WithoutAStorageRead()
    {
        var scoring = await CreateAsync();

        var result = await scoring.InferAsync(Tenant, Model, "7", Encoding.UTF8.GetBytes(Body), CancellationToken.None);

        Assert.AreEqual(ServingErrorCode.NotFound, result.Error?.Code);
        StringAssert.Contains(result.Error!.Message, "'7'");
    }

    [TestMethod]
    public async Task MemoryPressure_RefusesANewLoad_AsUnavailable_ButServesWhatIsResident()
    {
        var scoring = await CreateAsync(memoryLimitBytes: 1000);
        Assert.IsTrue((await scoring.LoadAsync(Tenant, Model, "1", CancellationToken.None)).IsSuccess, "loaded while memory was fine");
        Interlocked.Exchange(ref _resident, 5000);
        await Task.Delay(MemoryPressureMonitor.SampleInterval + TimeSpan.FromMilliseconds(50));

        var resident = await scoring.InferAsync(Tenant, Model, "1", Encoding.UTF8.GetBytes(Body), CancellationToken.None);
        _sessions.Remove(KeyOfVersionOne());
        var refused = await scoring.InferAsync(Tenant, Model, "1", Encoding.UTF8.GetBytes(Body), CancellationToken.None);

        Assert.IsTrue(resident.IsSuccess, resident.Error?.Message);
        Assert.AreEqual(ServingErrorCode.Unavailable, refused.Error?.Code, refused.Error?.Message);
        StringAssert.Contains(refused.Error!.Message, "memory pressure");
        Assert.IsNotNull(refused.Error.RetryAfter, "another replica or a retry will serve it");
    }

    [TestMethod]
    public async Task ModelsConcurrencyLimit_Full_IsRateLimitedWithRetryAfter()
    {
        var scoring = await CreateAsync(maxConcurrent: 1, maxQueued: 0);
        Assert.IsTrue((await scoring.LoadAsync(Tenant, Model, "1", CancellationToken.None)).IsSuccess);
        // Hold the model's one run slot, as a long request would.
        using var lease = await _sessions.AcquireAsync(KeyOfVersionOne(), _ => throw new AssertFailedException("the session is resident"), CancellationToken.None);
        using (var held = lease.Session.GetOrCreateLimiter(1, 0).AttemptAcquire())
        {
            Assert.IsTrue(held.IsAcquired);
            var refused = await scoring.InferAsync(Tenant, Model, "1", Encoding.UTF8.GetBytes(Body), CancellationToken.None);

            Assert.AreEqual(ServingErrorCode.RateLimited, refused.Error?.Code, refused.Error?.Message);
            StringAssert.Contains(refused.Error!.Message, "Shard__MaxConcurrentRequestsPerModel");
            Assert.IsNotNull(refused.Error.RetryAfter);
            Assert.IsTrue(refused.CacheHit, "the session was resident: only the slot was missing");
        }

        var served = await scoring.InferAsync(Tenant, Model, "1", Encoding.UTF8.GetBytes(Body), CancellationToken.None);
        Assert.IsTrue(served.IsSuccess, "the slot free again, the request runs");
    }

    [TestMethod]
    public async Task Unload_DropsTheSession_AndTheNextRequestLoadsItAgain()
    {
        var scoring = await CreateAsync();
        Assert.IsTrue((await scoring.InferAsync(Tenant, Model, "1", Encoding.UTF8.GetBytes(Body), CancellationToken.None)).IsSuccess);

        var unloaded = await scoring.UnloadAsync(Tenant, Model, "1", CancellationToken.None);
        var again = await scoring.InferAsync(Tenant, Model, "1", Encoding.UTF8.GetBytes(Body), CancellationToken.None);

        Assert.IsTrue(unloaded.IsSuccess, unloaded.Error?.Message);
        Assert.IsFalse(again.CacheHit, "the unloaded version is loaded again");
        Assert.AreEqual(2, _sessions.LoadCount);
    }

    // The session cache's key of version 1 (registry partition / version / SHA-256), as ScoringService makes it.
    private static string KeyOfVersionOne() =>
        string.Concat(ModelNames.ModelKey(Tenant, Model), "/1/", Convert.ToHexStringLower(SHA256.HashData(DemoModels.Linear())));

    private async Task<ScoringService> CreateAsync(long memoryLimitBytes = 0, int maxConcurrent = 64, int maxQueued = 256)
    {
        var meters = _services.GetRequiredService<IMeterFactory>();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = Options.Create(new ShardOptions
        {
            Id = "shard-00",
            BaseUrl = new Uri("http://127.0.0.1:9/"),
            DiskTierPath = _diskTier,
            MemoryLimitBytes = memoryLimitBytes,
            MaxConcurrentRequestsPerModel = maxConcurrent,
            MaxQueuedRequestsPerModel = maxQueued,
        });
        var storage = new StorageClients(Options.Create(new StorageOptions { ConnectionString = Unreachable }));
        var bytes = DemoModels.Linear();
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        IReadOnlyList<ModelVersionEntity> rows =
        [
            new ModelVersionEntity
            {
                PartitionKey = ModelNames.ModelKey(Tenant, Model),
                RowKey = "1",
                Tenant = Tenant,
                Model = Model,
                Version = "1",
                State = ModelStates.Ready,
                Sha256 = sha,
                BlobName = ModelNames.ModelBlobName(Tenant, Model, "1", sha),
                SizeBytes = bytes.Length,
            },
        ];

        // The rows as a read would have left them in the registry's cache (the key is the registry's own).
        await new LastKnownGoodCache(_memory, storage.OutageBreaker, time).GetOrLoadAsync(
            "registry:" + ModelNames.ModelKey(Tenant, Model), TimeSpan.FromHours(1), null, false, null, TimeSpan.Zero, _ => Task.FromResult(rows), CancellationToken.None);
        // And version 1's row as a point read would have left it (ModelRegistry.ResolveAsync reads a named version by its keys).
        await new LastKnownGoodCache(_memory, storage.OutageBreaker, time).GetOrLoadAsync<ModelVersionEntity?>(
            "row:" + ModelNames.ModelKey(Tenant, Model) + "|1", TimeSpan.FromHours(1), null, false, null, TimeSpan.Zero, _ => Task.FromResult<ModelVersionEntity?>(rows[0]), CancellationToken.None);
        var diskTier = new ModelDiskTier(options, meters, time, NullLogger<ModelDiskTier>.Instance);
        await diskTier.WriteAsync(sha, bytes, CancellationToken.None);

        _sessions = new SessionCache(options, meters);
        var catalog = new ModelCatalog(new ModelRegistry(storage, _memory, time));
        var loader = new ModelLoader(storage, TestAssemblySetup.Runtime, diskTier, meters, NullLogger<ModelLoader>.Instance);
        var metrics = new ServerlessMetrics(meters, new RequestWindow(time), new ConfigurationBuilder().Build());
        // Real time for the monitor: it samples at most every 250 ms.
        var memory = new MemoryPressureMonitor(options, TimeProvider.System, () => Interlocked.Read(ref _resident));
        return new ScoringService(catalog, _sessions, loader, new ModelTraffic(), time, NullLogger<ScoringService>.Instance, meters, metrics, memory, new RequestMemoryBudget(options), options);
    }
}
