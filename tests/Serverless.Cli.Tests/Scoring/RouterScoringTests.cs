using System.Globalization;
using System.Text.Json.Nodes;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Scoring;

/// <summary>Scoring through the router of a real local cluster, compared with ONNX Runtime run directly.</summary>
[TestClass]
public sealed class RouterScoringTests
{
    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    public async Task DemoModel_ThroughRouter_EqualsOnnxRuntimeElementForElement()
    {
        float[] x = [1f, 2f, 3f, 4f, -0.5f, 0.25f, 7f, -3f, 0f, 0f, 0f, 0f];
        var json = $$"""{"id":"req-1","inputs":[{"name":"x","shape":[3,4],"datatype":"FP32","data":[{{string.Join(',', x.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}}]}]}""";

        var (status, body, response) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, json);

        Assert.AreEqual(200, status, body?.ToJsonString());
        var expected = DirectOnnxRuntime.RunFloat(DemoModels.Linear(), "y", ("x", x, [3, 4]));
        var output = body!["outputs"]![0]!;
        Assert.AreEqual("y", (string?)output["name"]);
        Assert.AreEqual("FP32", (string?)output["datatype"]);
        CollectionAssert.AreEqual(new long[] { 3, 2 }, output["shape"]!.AsArray().Select(n => (long)n!).ToArray());
        CollectionAssert.AreEqual(expected, output["data"]!.AsArray().Select(n => (float)n!).ToArray());
        Assert.AreEqual("req-1", (string?)body["id"]);
        Assert.AreEqual(LocalCluster.DemoModel, (string?)body["model_name"]);
        Assert.AreEqual("1", (string?)body["model_version"]);
        Assert.AreEqual("1", response.Headers.GetValues("x-model-version").Single());
        StringAssert.StartsWith(response.Headers.GetValues("x-served-by").Single(), "shard-");
    }

    [TestMethod]
    public async Task SecondRequest_IsACacheHit_OnTheSameShard()
    {
        const string json = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[[1,2,3,4]]}]}""";
        var (first, _, firstResponse) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, json, version: "1");
        var (second, _, secondResponse) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, json, version: "1");

        Assert.AreEqual(200, first);
        Assert.AreEqual(200, second);
        Assert.AreEqual("hit", secondResponse.Headers.GetValues("x-cache").Single());
        Assert.AreEqual(firstResponse.Headers.GetValues("x-served-by").Single(), secondResponse.Headers.GetValues("x-served-by").Single(), "one replica by default: the same shard serves");
    }

    [TestMethod]
    public async Task ApiKeyHeader_IsAcceptedLikeBearer()
    {
        var (status, body) = await Cluster.GetAsync(Cluster.DemoKey, $"v2/models/{LocalCluster.DemoModel}");

        Assert.AreEqual(200, status, body?.ToJsonString());
        Assert.AreEqual("onnxruntime_onnx", (string?)body!["platform"]);
        var input = body["inputs"]![0]!;
        Assert.AreEqual("x", (string?)input["name"]);
        Assert.AreEqual("FP32", (string?)input["datatype"]);
        CollectionAssert.AreEqual(new long[] { -1, 4 }, input["shape"]!.AsArray().Select(n => (long)n!).ToArray());
        CollectionAssert.Contains(body["versions"]!.AsArray().Select(n => (string)n!).ToList(), "1");
    }

    [TestMethod]
    public async Task ReadyAndVersionMetadata_Answer()
    {
        var (ready, readyBody) = await Cluster.GetAsync(Cluster.DemoKey, $"v2/models/{LocalCluster.DemoModel}/ready");
        var (versionReady, _) = await Cluster.GetAsync(Cluster.DemoKey, $"v2/models/{LocalCluster.DemoModel}/versions/1/ready");
        var (metadata, metadataBody) = await Cluster.GetAsync(Cluster.DemoKey, $"v2/models/{LocalCluster.DemoModel}/versions/1");
        var (live, _) = await Cluster.GetAsync(null, "v2/health/live");
        var (serverReady, _) = await Cluster.GetAsync(null, "v2/health/ready");

        Assert.AreEqual(200, ready);
        Assert.IsTrue((bool)readyBody!["ready"]!);
        Assert.AreEqual(200, versionReady);
        Assert.AreEqual(200, metadata);
        Assert.AreEqual("1", (string?)metadataBody!["versions"]![0]);
        Assert.AreEqual(200, live);
        Assert.AreEqual(200, serverReady);
    }

    [TestMethod]
    public async Task ShardsDirectly_RefuseCallersWithoutCredentials()
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync(new Uri(Cluster.State.Shards[0].Url + $"/v2/models/{LocalCluster.DemoModel}/infer"), new StringContent("{}"));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync());

        Assert.AreEqual(401, (int)response.StatusCode);
        StringAssert.Contains((string?)body!["error"], "API key");
    }

    [TestMethod]
    public async Task DirectMode_PlacementNamesTheReplica_ThatAnswersWithTheClientsOwnKey()
    {
        var (status, placement) = await Cluster.GetAsync(Cluster.DemoKey, $"v2/models/{LocalCluster.DemoModel}/placement");
        Assert.AreEqual(200, status, placement?.ToJsonString());
        Assert.AreEqual("1", (string?)placement!["version"]);
        var replicas = placement["replicas"]!.AsArray();
        Assert.IsTrue(replicas.Count >= 1);
        StringAssert.Contains((string?)placement["reason"], "rendezvous");
        var url = (string)replicas[0]!["url"]!;
        CollectionAssert.Contains(Cluster.State.Shards.Select(s => s.Url).ToList(), url);

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{url}/v2/models/{LocalCluster.DemoModel}/versions/1/infer")
        {
            Content = new StringContent("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}"""),
        };
        request.Headers.TryAddWithoutValidation("x-api-key", Cluster.DemoKey);
        using var response = await http.SendAsync(request);
        Assert.AreEqual(200, (int)response.StatusCode, await response.Content.ReadAsStringAsync());
        Assert.AreEqual((string)replicas[0]!["id"]!, response.Headers.GetValues("x-served-by").Single());

        var (unauthorized, _) = await Cluster.GetAsync("demo.wrong", $"v2/models/{LocalCluster.DemoModel}/placement");
        Assert.AreEqual(401, unauthorized);
    }
}
