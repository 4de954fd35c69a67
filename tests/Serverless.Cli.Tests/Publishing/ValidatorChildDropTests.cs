using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>
/// Through the drop, against a publisher whose validator children may use 256 MiB: a model that ONNX Runtime would
/// blow up to 512 MiB while opening it is rejected naming the setting, the publisher process lives on, and the next
/// drop is published and served.
/// </summary>
[TestClass]
public sealed class ValidatorChildDropTests
{
    private const string DemoJson = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    [TestMethod]
    [Timeout(240_000)]
    public async Task AModelThatTakesTheValidatorsMemory_IsRejected_AndThePublisherPublishesTheNextDrop()
    {
        await using var cluster = await TestCluster.StartAsync(1, null, persistStorage: false, new Dictionary<string, string> { ["Publisher__ValidatorMemoryBytes"] = (256L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var publisher = cluster.State.Publisher!.Pid;
        var bloated = new OnnxModelBuilder("bloat")
            .AddInput("x", OnnxElementType.Float, 1L)
            .AddOutput("y", OnnxElementType.Float, 1L << 27)
            .AddInitializer("shape", [1L << 27], 1)
            .AddNode("ConstantOfShape", ["shape"], ["zeros"])
            .AddNode("Add", ["x", "zeros"], ["y"])
            .ToBytes();

        var rejected = await cluster.PublishAsync("demo", "bloat", "1", bloated);
        var next = await cluster.PublishAsync("demo", "after-bloat", "1", DemoModels.Linear());

        Assert.AreEqual(ModelStates.Rejected, rejected.State);
        StringAssert.Contains(rejected.Error, "Publisher__ValidatorMemoryBytes");
        Assert.IsTrue(ChildProcesses.IsOurs(publisher, "Serverless.LocalHost"), "the publisher process is the same and alive");
        Assert.AreEqual(ModelStates.Ready, next.State, next.Error);
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var (status, body, _) = await cluster.InferAsync(cluster.DemoKey, "after-bloat", DemoJson);
        Assert.AreEqual(200, status, body?.ToJsonString());
    }
}
