using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>Per-tenant publish limits: a publish over one is a Rejected row naming it, and nothing served changes.</summary>
[TestClass]
public sealed class PublishLimitsTests
{
    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    [Timeout(180_000)]
    public async Task OverEachLimit_APublishIsRejectedNamingIt_AndTheServedVersionsStay()
    {
        var key = await Cluster.Tenants.AddKeyAsync("limited", null, null, CancellationToken.None);
        var model = DemoModels.Linear();
        Assert.IsTrue(await Cluster.Tenants.SetPublishLimitsAsync("limited", maxModels: 2, maxVersionsPerModel: 2, maxTotalBytes: null, CancellationToken.None));
        Assert.IsFalse(await Cluster.Tenants.SetPublishLimitsAsync("no-such-tenant", 1, null, null, CancellationToken.None));

        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("limited", "first", "1", model)).State);
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("limited", "first", "2", model)).State);
        var third = await Cluster.PublishAsync("limited", "first", "3", model);
        Assert.AreEqual(ModelStates.Rejected, third.State);
        StringAssert.Contains(third.Error, "2 versions per model");

        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("limited", "second", "1", model)).State);
        var thirdModel = await Cluster.PublishAsync("limited", "third", "1", model);
        Assert.AreEqual(ModelStates.Rejected, thirdModel.State);
        StringAssert.Contains(thirdModel.Error, "its limit (2 models");

        // The same bytes dropped again at a stored version stay idempotent, limits or not.
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("limited", "first", "2", model)).State);

        var (status, body, _) = await Cluster.InferAsync(key, "first", """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""");
        Assert.AreEqual(200, status, body?.ToJsonString());
        Assert.AreEqual("2", (string?)body!["model_version"], "latest is still the highest Ready version");
    }

    [TestMethod]
    [Timeout(180_000)]
    public async Task OverTheByteLimit_APublishIsRejectedNamingTheBytes()
    {
        await Cluster.Tenants.AddKeyAsync("limited-bytes", null, null, CancellationToken.None);
        var model = DemoModels.Linear();
        Assert.IsTrue(await Cluster.Tenants.SetPublishLimitsAsync("limited-bytes", null, null, model.LongLength + 10, CancellationToken.None));

        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("limited-bytes", "small", "1", model)).State);
        var over = await Cluster.PublishAsync("limited-bytes", "small", "2", model);
        Assert.AreEqual(ModelStates.Rejected, over.State);
        StringAssert.Contains(over.Error, $"over its limit of {model.LongLength + 10:N0} bytes");
    }
}
