using System.Text;
using System.Text.Json.Nodes;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>The optional model.json dropped beside model.onnx: applied when valid, a rejection naming the problem when not.</summary>
[TestClass]
public sealed class ManifestTests
{
    private const string DemoJson = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    public async Task ValidManifest_IsApplied_ToRowAliasAndMetadata()
    {
        const string model = "manifest-full";
        var manifest = """
            {
              "description": "scores four features",
              "labels": {"team": "risk", "dataset": "2024-q1"},
              "maxBatch": 16,
              "aliases": ["production"],
              "inputs": {"x": {"description": "features"}}
            }
            """;

        var outcome = await Cluster.PublishAsync("demo", model, "1", DemoModels.Linear(), Encoding.UTF8.GetBytes(manifest));

        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
        var row = await Cluster.Registry.GetAsync("demo", model, "1", CancellationToken.None);
        Assert.IsNotNull(row);
        Assert.AreEqual("scores four features", row.Description);
        Assert.AreEqual(16, row.MaxBatch);
        var labels = JsonNode.Parse(row.Labels)!.AsObject();
        Assert.AreEqual(2, labels.Count, row.Labels);
        Assert.AreEqual("risk", (string?)labels["team"]);
        Assert.AreEqual("2024-q1", (string?)labels["dataset"]);

        // The publisher writes the Ready row (the verdict) first, then warms the version and moves the aliases.
        Assert.AreEqual("1", await WaitForAliasAsync(model, ModelRegistry.ProductionAlias, "1"), "model.json's alias points at the version");

        await Task.Delay(TimeSpan.FromSeconds(2.5)); // the router caches registry rows for 2 s
        var (status, metadata) = await Cluster.GetAsync(Cluster.DemoKey, $"v2/models/{model}");
        Assert.AreEqual(200, status, metadata?.ToJsonString());
        var input = metadata!["inputs"]!.AsArray().Single(i => (string?)i!["name"] == "x")!;
        Assert.AreEqual("features", (string?)input["description"], metadata.ToJsonString());
        StringAssert.Contains(metadata.ToJsonString(), "\"description\":\"features\"");

        var (inferStatus, body, _) = await Cluster.InferAsync(Cluster.DemoKey, model, DemoJson, version: ModelRegistry.ProductionAlias);
        Assert.AreEqual(200, inferStatus, body?.ToJsonString());
        Assert.AreEqual("1", (string?)body!["model_version"]);
    }

    [TestMethod]
    public async Task GpuModel_LargerThanTheGpuBudget_IsRejectedAtPublish_AndFitsTheCpuPool()
    {
        // 5M floats: a 20 MB file, charged ~40 MB, over the test clusters' 32 MiB GPU budget but well under the shards'.
        var weights = new float[5_000_000];
        var bytes = new OnnxModelBuilder("big")
            .AddInput("x", OnnxElementType.Float, "batch", 1000L)
            .AddOutput("y", OnnxElementType.Float, "batch", 5000L)
            .AddInitializer("W", weights, 1000, 5000)
            .AddNode("MatMul", ["x", "W"], ["y"])
            .ToBytes();

        var gpu = await Cluster.PublishAsync("demo", "manifest-gpu-too-big", "1", bytes, Encoding.UTF8.GetBytes("""{"gpu": true}"""));
        Assert.AreEqual(ModelStates.Rejected, gpu.State);
        StringAssert.Contains(gpu.Error, "GPU pool's budget");
        StringAssert.Contains(gpu.Error, TestCluster.GpuCacheBytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));

        var cpu = await Cluster.PublishAsync("demo", "manifest-gpu-too-big", "2", bytes);
        Assert.AreEqual(ModelStates.Ready, cpu.State, cpu.Error);
    }

    [TestMethod]
    [DataRow("manifest-empty", "", "empty", DisplayName = "0-byte model.json")]
    [DataRow("manifest-not-json", "this is { not json", "not valid", DisplayName = "not JSON")]
    [DataRow("manifest-unknown-prop", """{"gpuu": true}""", "gpuu", DisplayName = "unknown property")]
    [DataRow("manifest-max-batch", """{"maxBatch": 0}""", "maxBatch", DisplayName = "maxBatch 0")]
    [DataRow("manifest-alias-latest", """{"aliases": ["latest"]}""", "latest", DisplayName = "alias latest")]
    [DataRow("manifest-no-input", """{"inputs": {"nope": {"description": "not there"}}}""", "'nope'", DisplayName = "input the model lacks")]
    public async Task BadManifest_IsRejected_NamingTheProblem_AndThePlatformKeepsServing(string model, string manifest, string expected)
    {
        var outcome = await Cluster.PublishAsync("demo", model, "1", DemoModels.Linear(), Encoding.UTF8.GetBytes(manifest));

        Assert.AreEqual(ModelStates.Rejected, outcome.State, $"model.json {manifest} was accepted");
        StringAssert.Contains(outcome.Error, expected);
        StringAssert.Contains(outcome.Error, "model.json");
        var row = await Cluster.Registry.GetAsync("demo", model, "1", CancellationToken.None);
        Assert.AreEqual(ModelStates.Rejected, row?.State);
        Assert.AreEqual(outcome.Error, row!.Error);
        Assert.IsTrue(string.IsNullOrEmpty(row.BlobName), "nothing is stored for a rejected version");

        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, DemoJson);
        Assert.AreEqual(200, status, body?.ToJsonString());
        Assert.IsTrue(Cluster.AllProcessesAlive(), "every process of the cluster still runs");
    }

    private static async Task<string?> WaitForAliasAsync(string model, string alias, string expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            Cluster.Registry.Invalidate("demo", model);
            var rows = await Cluster.Registry.GetRowsAsync("demo", model, CancellationToken.None);
            var version = rows.SingleOrDefault(r => r.RowKey == ModelVersionEntity.AliasPrefix + alias)?.Version;
            if (version == expected || DateTime.UtcNow > deadline)
            {
                return version;
            }

            await Task.Delay(100);
        }
    }
}
