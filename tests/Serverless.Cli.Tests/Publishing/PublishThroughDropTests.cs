using System.Text;
using Serverless.Cli.Tests.Cluster;
using Serverless.Cli.Tests.Scoring;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>Publishing through the blob drop: the publisher validates, stores and registers, or rejects with the reason.</summary>
[TestClass]
public sealed class PublishThroughDropTests
{
    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    public async Task PublishedModel_IsScoredThroughRouter_EqualToOnnxRuntime()
    {
        var bytes = DemoModels.TwoInputs();
        var outcome = await Cluster.PublishAsync("demo", "two-inputs", "1", bytes);
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);

        float[] a = [1.5f, -2f, 3.25f];
        float[] b = [4f, 0.5f, -1f];
        var json = """{"inputs":[{"name":"a","shape":[3],"datatype":"FP32","data":[1.5,-2,3.25]},{"name":"b","shape":[3],"datatype":"FP32","data":[4,0.5,-1]}]}""";
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, "two-inputs", json);

        Assert.AreEqual(200, status, body?.ToJsonString());
        var outputs = body!["outputs"]!.AsArray();
        Assert.AreEqual(2, outputs.Count);
        foreach (var output in outputs)
        {
            var name = (string)output!["name"]!;
            var expected = DirectOnnxRuntime.RunFloat(bytes, name, ("a", a, [3]), ("b", b, [3]));
            CollectionAssert.AreEqual(expected, output["data"]!.AsArray().Select(n => (float)n!).ToArray(), name);
        }
    }

    [TestMethod]
    public async Task OutputsFilter_ReturnsOnlyTheNamedOutput()
    {
        var outcome = await Cluster.PublishAsync("demo", "two-inputs-filter", "1", DemoModels.TwoInputs());
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);

        var json = """{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,2]},{"name":"b","shape":[2],"datatype":"FP32","data":[3,4]}],"outputs":[{"name":"product"}]}""";
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, "two-inputs-filter", json);

        Assert.AreEqual(200, status, body?.ToJsonString());
        var outputs = body!["outputs"]!.AsArray();
        Assert.AreEqual(1, outputs.Count);
        Assert.AreEqual("product", (string?)outputs[0]!["name"]);
        CollectionAssert.AreEqual(new[] { 3f, 8f }, outputs[0]!["data"]!.AsArray().Select(n => (float)n!).ToArray());
    }

    [TestMethod]
    public async Task NotAnOnnxFile_IsRejected_WithTheReason_AndTheDropStays()
    {
        var outcome = await Cluster.PublishAsync("demo", "junk", "1", Encoding.UTF8.GetBytes("this is not a model"));

        Assert.AreEqual(ModelStates.Rejected, outcome.State);
        StringAssert.Contains(outcome.Error, "not a loadable ONNX model");
        var row = await Cluster.Registry.GetAsync("demo", "junk", "1", CancellationToken.None);
        Assert.AreEqual(ModelStates.Rejected, row?.State);
        Assert.IsTrue((await Cluster.Storage.Drop.GetBlobClient("demo/junk/1/model.onnx").ExistsAsync()).Value, "a rejected drop is left in place");
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, "junk", "{}", version: "1");
        Assert.AreEqual(404, status);
        StringAssert.Contains((string?)body!["error"], "Rejected");
    }

    [TestMethod]
    public async Task UnknownOperator_IsRejected_NamingTheOperator()
    {
        var outcome = await Cluster.PublishAsync("demo", "bad-op", "1", DemoModels.UnknownOperator());

        Assert.AreEqual(ModelStates.Rejected, outcome.State);
        StringAssert.Contains(outcome.Error, "NoSuchOperator");
    }

    [TestMethod]
    public async Task EmptyFile_IsRejected()
    {
        var outcome = await Cluster.PublishAsync("demo", "empty", "1", []);

        Assert.AreEqual(ModelStates.Rejected, outcome.State);
        StringAssert.Contains(outcome.Error, "empty");
    }

    [TestMethod]
    public async Task SameBytesTwice_IsOneVersion_DifferentBytes_AreRefused()
    {
        var first = await Cluster.PublishAsync("demo", "idempotent", "1", DemoModels.Linear());
        var again = await Cluster.PublishAsync("demo", "idempotent", "1", DemoModels.Linear());
        var different = await Cluster.PublishAsync("demo", "idempotent", "1", DemoModels.TwoInputs());

        Assert.AreEqual(ModelStates.Ready, first.State, first.Error);
        Assert.AreEqual(ModelStates.Ready, again.State);
        Assert.AreEqual(first.Row!.Sha256, again.Row!.Sha256);
        Assert.AreEqual(ModelStates.Rejected, different.State);
        StringAssert.Contains(different.Error, "immutable");
        var row = await Cluster.Registry.GetAsync("demo", "idempotent", "1", CancellationToken.None);
        Assert.AreEqual(first.Row.Sha256, row!.Sha256, "the served version is unchanged");
    }

    [TestMethod]
    public async Task NoVersion_MeansProductionAlias_ElseHighestReady()
    {
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("demo", "versioned", "1", DemoModels.Linear())).State);
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("demo", "versioned", "2", DemoModels.Linear())).State);
        const string json = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

        var (_, highest, _) = await Cluster.InferAsync(Cluster.DemoKey, "versioned", json);
        await Cluster.Lifecycle.MoveAliasAsync("demo", "versioned", ModelRegistry.ProductionAlias, "1", warm: true, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // the router caches registry rows for 2 s
        var (_, production, _) = await Cluster.InferAsync(Cluster.DemoKey, "versioned", json);

        Assert.AreEqual("2", (string?)highest!["model_version"]);
        Assert.AreEqual("1", (string?)production!["model_version"]);
    }
}
