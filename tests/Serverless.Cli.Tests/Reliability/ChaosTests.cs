using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Tests.Reliability;

/// <summary>
/// Faults under load, on a cluster of the test's own (loopback only, bounded in time): storage stopped and
/// restarted, the publisher killed in the middle of publishing. The figures are in docs/reliability.md.
/// </summary>
[TestClass]
public sealed class ChaosTests
{
    private const string Body = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [Timeout(240_000)]
    public async Task AzuriteStoppedAndRestarted_ResidentModelsKeepAnswering_AndPublishingResumes()
    {
        await using var cluster = await TestCluster.StartAsync(shards: 1, null, persistStorage: true);
        Assert.AreEqual(ModelStates.Ready, (await cluster.PublishAsync("demo", "resident", "1", DemoModels.Linear())).State);
        Assert.AreEqual(ModelStates.Ready, (await cluster.PublishAsync("demo", "never-loaded", "1", DemoModels.Linear())).State);
        await WaitAnsweredAsync(cluster, "resident");

        // Steady load on the resident model for the whole test: one request every 20 ms.
        using var stopLoad = new CancellationTokenSource();
        var statuses = new ConcurrentQueue<(int Status, double Ms, string Phase)>();
        var phase = "before";
        var load = Task.Run(async () =>
        {
            while (!stopLoad.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                var (status, _, _) = await cluster.InferAsync(cluster.DemoKey, "resident", Body);
                statuses.Enqueue((status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, Volatile.Read(ref phase)));
                await Task.Delay(20);
            }
        });

        await Task.Delay(TimeSpan.FromSeconds(1));
        await cluster.Cluster.StopAzuriteAsync(cluster.State);
        Volatile.Write(ref phase, "outage");
        // Long enough for every cache of the request path (2 s to 15 s) to expire and be refreshed against nothing.
        await Task.Delay(TimeSpan.FromSeconds(8));
        var (coldStatus, coldBody, _) = await cluster.InferAsync(cluster.DemoKey, "never-loaded", Body);
        Assert.IsFalse(ChildProcesses.IsOurs(cluster.State.Azurite!.Pid, "azurite"), "Azurite's blob service is stopped");
        Assert.IsFalse(ChildProcesses.IsOurs(cluster.State.AzuriteTables!.Pid, "azurite"), "Azurite's table service is stopped");
        Assert.IsTrue(cluster.State.AllProcesses().Where(p => p != cluster.State.Azurite && p != cluster.State.AzuriteTables).All(p => ChildProcesses.IsOurs(p.Pid, cluster.State.MarkerOf(p))), "the apps live through the outage");

        await cluster.Cluster.StartAzuriteAsync(cluster.State, CancellationToken.None);
        Volatile.Write(ref phase, "after");
        var published = await cluster.PublishAsync("demo", "published-after", "1", DemoModels.Linear());
        await Task.Delay(TimeSpan.FromSeconds(1));
        stopLoad.Cancel();
        await load;

        var all = statuses.ToArray();
        var outage = all.Where(s => s.Phase == "outage").ToArray();
        TestContext.WriteLine($"requests: {all.Length} ({outage.Length} during the outage); outage max {outage.Max(s => s.Ms):0} ms, " +
            $"p50 {Percentile(outage.Select(s => s.Ms), 50):0.0} ms; non-200: {string.Join(",", all.Where(s => s.Status != 200).Select(s => $"{s.Status}@{s.Phase}"))}");
        Assert.IsTrue(outage.Length >= 50, $"only {outage.Length} requests during the outage");
        Assert.AreEqual(0, all.Count(s => s.Status != 200), "the resident model answered every request, through the outage too");
        Assert.AreEqual(503, coldStatus, coldBody?.ToJsonString());
        StringAssert.Contains(coldBody?.ToJsonString(), "storage is unreachable");
        Assert.AreEqual(ModelStates.Ready, published.State, published.Error);
        await WaitAnsweredAsync(cluster, "published-after");
        await WaitAnsweredAsync(cluster, "never-loaded");
        Assert.IsTrue(cluster.AllProcessesAlive());
    }

    [TestMethod]
    [Timeout(240_000)]
    public async Task ShardKilledUnderSteadyLoad_ModelWithTwoReplicas_LosesNoRequest()
    {
        await using var cluster = await TestCluster.StartAsync(shards: 3);
        // A tenant whose quota does not throttle the load: only the kill may cost a request here.
        var key = await cluster.Tenants.AddKeyAsync("steady", null, 1_000_000, CancellationToken.None);
        Assert.AreEqual(ModelStates.Ready, (await cluster.PublishAsync("steady", "steady", "1", DemoModels.Linear())).State);
        await cluster.Placements.SetReplicasAsync("steady", "steady", 2, "chaos test", CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // the router caches placement rows for 2 s
        var servedBy = new HashSet<string>();
        for (var i = 0; i < 60 && servedBy.Count < 2; i++)
        {
            var (status, body, response) = await cluster.InferAsync(key, "steady", Body);
            Assert.AreEqual(200, status, body?.ToJsonString());
            servedBy.Add(response.Headers.GetValues("x-served-by").Single());
        }

        Assert.AreEqual(2, servedBy.Count, "both replicas serve, so both are warm");

        // Four callers without pause for 8 s; one replica is killed 2 s in.
        var statuses = new ConcurrentQueue<(int Status, double Ms)>();
        var until = Stopwatch.StartNew();
        var callers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (until.Elapsed < TimeSpan.FromSeconds(8))
            {
                var started = Stopwatch.GetTimestamp();
                var (status, _, _) = await cluster.InferAsync(key, "steady", Body);
                statuses.Enqueue((status, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
            }
        })).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(2));
        var victim = cluster.State.Shards.Single(s => s.Id == servedBy.First());
        ChildProcesses.Kill(victim.Pid);
        await Task.WhenAll(callers);

        var all = statuses.ToArray();
        TestContext.WriteLine($"{all.Length} requests, {all.Count(s => s.Status != 200)} failed, p50 {Percentile(all.Select(s => s.Ms), 50):0.0} ms, p99 {Percentile(all.Select(s => s.Ms), 99):0.0} ms, max {all.Max(s => s.Ms):0} ms");
        Assert.IsTrue(all.Length > 200, $"only {all.Length} requests");
        Assert.AreEqual(0, all.Count(s => s.Status != 200), string.Join(", ", all.Where(s => s.Status != 200).GroupBy(s => s.Status).Select(g => $"{g.Count()} × {g.Key}")));
    }

    [TestMethod]
    [Timeout(240_000)]
    public async Task PublisherKilledMidPublish_EveryModelEndsReady_WithRowAndBlobInAgreement()
    {
        // Two drops handled at once: with the default (8 × cores) all twelve are published together and none is left
        // in flight when the first is registered; two keep most of them waiting, and two are cut short by the kill.
        await using var cluster = await TestCluster.StartAsync(shards: 1, null, persistStorage: false, new Dictionary<string, string>
        {
            ["BlobTrigger__MaxDegreeOfParallelism"] = "2",
        });
        const int Count = 12;
        var names = Enumerable.Range(0, Count).Select(i => $"crash-{i:00}").ToArray();
        var models = names.Select((_, i) => ModelOfMegabytes(4, seed: i)).ToArray();

        // Drop them all, as a user would, and kill the publisher as soon as the first is registered.
        await Parallel.ForEachAsync(Enumerable.Range(0, Count), async (i, ct) =>
            await cluster.Storage.Drop.GetBlobClient(ModelNames.DropBlobName("demo", names[i], "1")).UploadAsync(new BinaryData(models[i]), overwrite: true, ct));
        var watch = Stopwatch.StartNew();
        while (await ReadyCountAsync(cluster, names) == 0 && watch.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(20);
        }

        var readyAtKill = await ReadyCountAsync(cluster, names);
        cluster.Cluster.KillAndRestartPublisher(cluster.State);
        TestContext.WriteLine($"publisher killed with {readyAtKill} of {Count} registered");
        Assert.IsTrue(readyAtKill is > 0 and < Count, $"the kill came in the middle of publishing ({readyAtKill} of {Count} registered)");

        watch.Restart();
        while (await ReadyCountAsync(cluster, names) < Count && watch.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(200);
        }

        TestContext.WriteLine($"all registered {watch.Elapsed.TotalSeconds:0.0} s after the kill");
        for (var i = 0; i < Count; i++)
        {
            cluster.Registry.Invalidate("demo", names[i]);
            var rows = await cluster.Registry.GetRowsAsync("demo", names[i], CancellationToken.None);
            var row = rows.SingleOrDefault(r => !r.IsAlias && r.Version == "1");
            Assert.IsNotNull(row, $"{names[i]} has its row");
            Assert.AreEqual(ModelStates.Ready, row.State, $"{names[i]}: {row.Error}");
            var sha = Convert.ToHexStringLower(SHA256.HashData(models[i]));
            Assert.AreEqual(sha, row.Sha256, $"{names[i]}: the row names the dropped bytes");

            // Exactly one stored blob, the row's, holding exactly the dropped bytes.
            var blobs = new List<string>();
            await foreach (var blob in cluster.Storage.Models.GetBlobsAsync(prefix: $"demo/{names[i]}/"))
            {
                blobs.Add(blob.Name);
            }

            CollectionAssert.AreEqual(new[] { row.BlobName }, blobs, $"{names[i]}: stored blobs");
            var stored = (await cluster.Storage.Models.GetBlobClient(row.BlobName).DownloadContentAsync()).Value.Content.ToArray();
            Assert.AreEqual(sha, Convert.ToHexStringLower(SHA256.HashData(stored)), $"{names[i]}: stored bytes");
            Assert.AreEqual("1", rows.SingleOrDefault(r => r.IsAlias && r.RowKey == ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias)?.Version, $"{names[i]}: latest");
        }

        Assert.IsTrue(cluster.AllProcessesAlive());
    }

    /// <summary>A valid model of about <paramref name="megabytes"/> MB whose bytes depend on <paramref name="seed"/>.</summary>
    private static byte[] ModelOfMegabytes(int megabytes, int seed)
    {
        const int Width = 512;
        var rows = megabytes * 1024 * 1024 / 4 / Width;
        var random = new Random(seed);
        var weights = new float[rows * Width];
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)random.NextDouble();
        }

        return new OnnxModelBuilder("crash")
            .AddInput("x", OnnxElementType.Float, "batch", (long)rows)
            .AddOutput("y", OnnxElementType.Float, "batch", (long)Width)
            .AddInitializer("W", weights, rows, Width)
            .AddNode("MatMul", ["x", "W"], ["y"])
            .ToBytes();
    }

    private static async Task<int> ReadyCountAsync(TestCluster cluster, string[] names)
    {
        var ready = 0;
        foreach (var name in names)
        {
            var row = await cluster.Registry.GetAsync("demo", name, "1", CancellationToken.None);
            if (row?.State == ModelStates.Ready)
            {
                ready++;
            }
        }

        return ready;
    }

    private static async Task WaitAnsweredAsync(TestCluster cluster, string model)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var (status, body, _) = await cluster.InferAsync(cluster.DemoKey, model, Body);
            if (status == 200)
            {
                return;
            }

            if (watch.Elapsed > TimeSpan.FromSeconds(30))
            {
                Assert.Fail($"{model} answered {status} for 30 s: {body?.ToJsonString()}");
            }

            await Task.Delay(250);
        }
    }

    private static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];
    }
}
