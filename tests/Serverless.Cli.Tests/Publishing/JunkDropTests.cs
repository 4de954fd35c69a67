using System.Security.Cryptography;
using System.Text;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Cli.Tests.Scoring;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>Junk dropped for publishing leaves a Rejected row saying why, and the platform keeps serving.</summary>
[TestClass]
public sealed class JunkDropTests
{
    private const string DemoJson = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    public async Task TruncatedModel_IsRejected()
    {
        var linear = DemoModels.Linear();
        await AssertRejectedAsync("junk-truncated", linear[..(linear.Length / 2)], "not a loadable ONNX model");
    }

    [TestMethod]
    public async Task RandomBytes_AreRejected()
    {
        var bytes = new byte[4096];
#pragma warning disable CA5394 // not for security: fixed-seed junk, the same on every run
        new Random(20240601).NextBytes(bytes);
#pragma warning restore CA5394
        await AssertRejectedAsync("junk-random", bytes, null);
    }

    [TestMethod]
    public async Task UnknownOperator_IsRejected_NamingTheOperator() =>
        await AssertRejectedAsync("junk-unknown-op", DemoModels.UnknownOperator(), "NoSuchOperator");

    [TestMethod]
    public async Task ExternalData_IsRejected_NamingTheTensor()
    {
        var row = await AssertRejectedAsync("junk-external", DemoModels.ExternalData(), "external");
        StringAssert.Contains(row.Error, "'W'");
    }

    [TestMethod]
    public async Task ExternalData_BehindAnUnknownProtobufGroup_IsRejected_NamingTheTensor()
    {
        // Field 3243 as an empty group (start 0xDB 0xCA 0x01, end 0xDC 0xCA 0x01): ORT's parser skips it, so must the checks.
        byte[] bytes = [0xDB, 0xCA, 0x01, 0xDC, 0xCA, 0x01, .. DemoModels.ExternalData()];
        var row = await AssertRejectedAsync("junk-external-behind-group", bytes, "external");
        StringAssert.Contains(row.Error, "'W'");
    }

    [TestMethod]
    public async Task UnclosedProtobufGroup_IsRejected_WithTheReason() =>
        await AssertRejectedAsync("junk-unclosed-group", [0xDB, 0xCA, 0x01, .. DemoModels.Linear()], "the group of field 3243 has no end tag");

    [TestMethod]
    public async Task ConstantOfShapeBomb_IsRejectedBeforeOnnxRuntimeBuildsIt()
    {
        // A few bytes of shape that ORT's constant folding would unfold into 4 TB when opening the session.
        long[] shape = [100_000, 100_000, 100];
        var bytes = new OnnxModelBuilder("bomb")
            .AddInput("x", OnnxElementType.Float, 1L)
            .AddOutput("y", OnnxElementType.Float, 100_000L, 100_000L, 100L)
            .AddInitializer("shape", shape, 3)
            .AddNode("ConstantOfShape", ["shape"], ["zeros"])
            .AddNode("Add", ["x", "zeros"], ["y"])
            .ToBytes();
        await AssertRejectedAsync("malicious-constant-of-shape", bytes, "ConstantOfShape");
    }

    [TestMethod]
    public async Task TensorDeclaringAHugeShape_IsRejected_NamingTheTensor() =>
        await AssertRejectedAsync(
            "malicious-declared-shape",
            new OnnxModelBuilder("declared")
                .AddInput("x", OnnxElementType.Float, 1L)
                .AddOutput("y", OnnxElementType.Float, 1L)
                .AddMalformedInitializer("W", OnnxElementType.Float, [1_000_000, 1_000_000], [0, 0, 0, 0])
                .AddNode("Identity", ["x"], ["y"])
                .ToBytes(),
            "tensor 'W'");

    [TestMethod]
    public async Task GraphWithTooManyNodes_IsRejected()
    {
        var builder = new OnnxModelBuilder("deep")
            .AddInput("x", OnnxElementType.Float, 1L)
            .AddOutput("y", OnnxElementType.Float, 1L);
        var previous = "x";
        for (var i = 0; i <= OnnxModelBounds.MaxNodes; i++)
        {
            var next = i == OnnxModelBounds.MaxNodes ? "y" : $"t{i}";
            builder.AddNode("Identity", [previous], [next]);
            previous = next;
        }

        await AssertRejectedAsync("malicious-many-nodes", builder.ToBytes(), "nodes");
    }

    [TestMethod]
    public async Task EmptyFile_IsRejected() =>
        await AssertRejectedAsync("junk-empty", [], "empty");

    [TestMethod]
    public async Task SameVersionDroppedAgainWithDifferentBytes_IsRefused_AndTheServedVersionKeepsWorking()
    {
        const string model = "junk-immutable";
        var first = await Cluster.PublishAsync("demo", model, "1", DemoModels.Linear());
        Assert.AreEqual(ModelStates.Ready, first.State, first.Error);

        // Through the CLI's path: refused before anything is uploaded.
        var viaCli = await Cluster.PublishAsync("demo", model, "1", DemoModels.TwoInputs());
        Assert.AreEqual(ModelStates.Rejected, viaCli.State);
        StringAssert.Contains(viaCli.Error, "immutable");

        // Straight into the drop, as any other uploader could: the publisher refuses and records why on the row.
        var other = DemoModels.TwoInputs();
        var otherSha = Convert.ToHexStringLower(SHA256.HashData(other));
        await Cluster.Storage.Drop.GetBlobClient(ModelNames.DropBlobName("demo", model, "1")).UploadAsync(new BinaryData(other), overwrite: true);
        var row = await WaitForRowAsync(model, "1", r => r.DropSha256 == otherSha && !string.IsNullOrEmpty(r.DropError));

        Assert.IsNotNull(row, "the publisher records the refused drop on the row (DropSha256, DropError)");
        StringAssert.Contains(row.DropError, "immutable");
        Assert.AreEqual(ModelStates.Ready, row.State, "the served version stays Ready");
        Assert.AreEqual(first.Row!.Sha256, row.Sha256, "the served bytes are unchanged");
        Assert.AreEqual(first.Row.BlobName, row.BlobName);

        await Task.Delay(TimeSpan.FromSeconds(2.5)); // the router caches registry rows for 2 s
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, model, DemoJson, version: "1");
        Assert.AreEqual(200, status, body?.ToJsonString());
        var y = body!["outputs"]![0]!["data"]!.AsArray().Select(n => (float)n!).ToArray();
        var expected = DirectOnnxRuntime.RunFloat(DemoModels.Linear(), "y", ("x", [1f, 2f, 3f, 4f], [1, 4]));
        CollectionAssert.AreEqual(expected, y, "version 1 still serves the first bytes");
        await AssertStillServingAsync();
    }

    [TestMethod]
    public async Task DirectDropWithAnInvalidModelName_DoesNotCrashThePlatform()
    {
        await Cluster.Storage.Drop.GetBlobClient("demo/Bad Name/1/model.onnx").UploadAsync(new BinaryData(DemoModels.Linear()), overwrite: true);
        await Task.Delay(TimeSpan.FromSeconds(3));

        await AssertStillServingAsync();
    }

    [TestMethod]
    public async Task DirectDropWithAnInvalidModelName_LeavesARejectedRowSayingWhy()
    {
        const string badName = "Bad Model";
        await Cluster.Storage.Drop.GetBlobClient($"demo/{badName}/1/model.onnx").UploadAsync(new BinaryData(DemoModels.Linear()), overwrite: true);

        ModelVersionEntity? row = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (row is null && DateTime.UtcNow < deadline)
        {
            row = (await Cluster.Registry.ListAsync("demo", CancellationToken.None)).SingleOrDefault(r => r.Model == badName);
            if (row is null)
            {
                await Task.Delay(200);
            }
        }

        Assert.IsNotNull(row, "serverless models shows why a model dropped under an invalid name never appeared");
        Assert.AreEqual(ModelStates.Rejected, row.State);
        Assert.AreEqual("1", row.Version);
        StringAssert.Contains(row.Error, $"model name '{badName}' is not valid");
        await AssertStillServingAsync();
    }

    /// <summary>Publishes junk, checks the verdict and the Rejected row, and that the platform still serves the demo model.</summary>
    private static async Task<ModelVersionEntity> AssertRejectedAsync(string model, byte[] bytes, string? reason)
    {
        var outcome = await Cluster.PublishAsync("demo", model, "1", bytes);

        Assert.AreEqual(ModelStates.Rejected, outcome.State, $"{model} was accepted");
        Assert.IsFalse(string.IsNullOrWhiteSpace(outcome.Error), "a rejection says why");
        if (reason is not null)
        {
            StringAssert.Contains(outcome.Error, reason);
        }

        var row = await Cluster.Registry.GetAsync("demo", model, "1", CancellationToken.None);
        Assert.IsNotNull(row);
        Assert.AreEqual(ModelStates.Rejected, row.State);
        Assert.AreEqual(outcome.Error, row.Error);
        Assert.IsTrue((await Cluster.Storage.Drop.GetBlobClient(ModelNames.DropBlobName("demo", model, "1")).ExistsAsync()).Value, "a rejected drop stays in place");

        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, model, DemoJson, version: "1");
        Assert.AreEqual(404, status, body?.ToJsonString());
        StringAssert.Contains((string?)body!["error"], ModelStates.Rejected);
        await AssertStillServingAsync();
        return row;
    }

    private static async Task AssertStillServingAsync()
    {
        Assert.IsTrue(Cluster.AllProcessesAlive(), "every process of the cluster still runs");
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, DemoJson);
        Assert.AreEqual(200, status, body?.ToJsonString());
    }

    private static async Task<ModelVersionEntity?> WaitForRowAsync(string model, string version, Func<ModelVersionEntity, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var row = await Cluster.Registry.GetAsync("demo", model, version, CancellationToken.None);
            if (row is not null && condition(row))
            {
                return row;
            }

            if (DateTime.UtcNow > deadline)
            {
                return null;
            }

            await Task.Delay(200);
        }
    }
}
