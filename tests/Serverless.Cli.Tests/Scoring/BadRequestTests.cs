using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;

namespace Serverless.Cli.Tests.Scoring;

/// <summary>Bad input gets a clear 4xx naming the problem, and no process of the cluster goes down.</summary>
[TestClass]
public sealed class BadRequestTests
{
    private const string GoodBody = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    [DataRow(null, DisplayName = "no key")]
    [DataRow("not-a-key", DisplayName = "malformed key")]
    [DataRow("demo.wrongsecret", DisplayName = "wrong secret")]
    [DataRow("nobody.c2VjcmV0", DisplayName = "unknown tenant")]
    public async Task WrongKey_Is401(string? key)
    {
        var (status, body, _) = await Cluster.InferAsync(key, LocalCluster.DemoModel, GoodBody);

        Assert.AreEqual(401, status);
        StringAssert.Contains((string?)body!["error"], "API key");
    }

    [TestMethod]
    public async Task UnknownModelOrVersion_Is404()
    {
        var (model, modelBody, _) = await Cluster.InferAsync(Cluster.DemoKey, "no-such-model", GoodBody);
        var (version, versionBody, _) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, GoodBody, version: "99");

        Assert.AreEqual(404, model);
        StringAssert.Contains((string?)modelBody!["error"], "no-such-model");
        Assert.AreEqual(404, version);
        StringAssert.Contains((string?)versionBody!["error"], "99");
    }

    [TestMethod]
    public async Task AnotherTenantsModel_Is404_NotForbidden()
    {
        var otherKey = await Cluster.Tenants.AddKeyAsync("other-tenant", null, CancellationToken.None);

        var (infer, _, _) = await Cluster.InferAsync(otherKey, LocalCluster.DemoModel, GoodBody);
        var (metadata, _) = await Cluster.GetAsync(otherKey, $"v2/models/{LocalCluster.DemoModel}");

        Assert.AreEqual(404, infer);
        Assert.AreEqual(404, metadata);
    }

    [TestMethod]
    [DataRow("""{"inputs":[{"name":"z","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""", "'z'", DisplayName = "wrong input name")]
    [DataRow("""{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""", "shape", DisplayName = "wrong shape")]
    [DataRow("""{"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]}""", "rank", DisplayName = "wrong rank")]
    [DataRow("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"INT64","data":[1,2,3,4]}]}""", "INT64", DisplayName = "wrong datatype")]
    [DataRow("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP33","data":[1,2,3,4]}]}""", "FP33", DisplayName = "unknown datatype")]
    [DataRow("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3]}]}""", "3 data elements", DisplayName = "too few elements")]
    [DataRow("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,"three",4]}]}""", "element 2", DisplayName = "string in FP32 data")]
    [DataRow("""{"inputs":[{"name":"x",""", "not valid JSON", DisplayName = "malformed JSON")]
    [DataRow("""[1,2,3]""", "JSON object", DisplayName = "not an object")]
    [DataRow("""{"inputs":[]}""", "missing", DisplayName = "no inputs")]
    [DataRow("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":[{"name":"nope"}]}""", "'nope'", DisplayName = "unknown output")]
    public async Task BadInput_Is400_NamingTheProblem(string json, string expectedInMessage)
    {
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, json);

        Assert.AreEqual(400, status, body?.ToJsonString());
        StringAssert.Contains((string?)body!["error"], expectedInMessage);
        Assert.IsTrue(Cluster.AllProcessesAlive(), "a bad request must not take any process down");
    }

    [TestMethod]
    public async Task BadModelName_Is400()
    {
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, "Bad_Name", GoodBody);

        Assert.AreEqual(400, status);
        StringAssert.Contains((string?)body!["error"], "Bad_Name");
    }
}
