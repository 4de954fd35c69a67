using System.Text;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Scoring;

/// <summary>
/// The GPU app serves the gpu pool (here on the CPU execution provider, which it says), reached by the
/// router like any shard; models marked gpu at publish go there and are batched dynamically.
/// </summary>
[TestClass]
public sealed class GpuPoolTests
{
    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    public async Task GpuApp_ReportsItsExecutionProvider_FallingBackToCpuHere()
    {
        using var http = new HttpClient();
        var gpu = Cluster.State.Gpu;
        Assert.IsNotNull(gpu, "the local cluster starts the GPU app");
        var health = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(new Uri(gpu.Url + "/v2/health/ready")))!;

        Assert.IsTrue((bool)health["ready"]!);
        Assert.AreEqual("CPU", (string?)health["executionProvider"], "no GPU here: the CUDA provider falls back to CPU");
    }

    [TestMethod]
    public async Task ModelPublishedForTheGpu_IsServedByTheGpuApp_Batched_EqualToOnnxRuntime()
    {
        var manifest = Encoding.UTF8.GetBytes("""{"gpu": true, "dynamicBatching": {"maxQueueDelayUs": 20000, "preferredBatchSize": 16}}""");
        var bytes = DemoModels.Linear();
        var outcome = await Cluster.PublishAsync("demo", "heavy", "1", bytes, manifest);
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
        Assert.AreEqual("gpu", outcome.Row!.Pool);
        Assert.AreEqual(20000, outcome.Row.BatchMaxQueueDelayUs);

        // A burst of concurrent callers, each with its own rows: batched together on the GPU app.
        var inputs = Enumerable.Range(0, 12).Select(i => new[] { i, i + 0.5f, -i, 1f }).ToArray();
        var answers = await Task.WhenAll(inputs.Select(x => Cluster.InferAsync(Cluster.DemoKey, "heavy",
            $$"""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[{{string.Join(',', x.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}}]}]}""")));

        for (var i = 0; i < inputs.Length; i++)
        {
            var (status, body, response) = answers[i];
            Assert.AreEqual(200, status, body?.ToJsonString());
            Assert.AreEqual("gpu-00", response.Headers.GetValues("x-served-by").Single());
            var expected = DirectOnnxRuntime.RunFloat(bytes, "y", ("x", inputs[i], [1, 4]));
            CollectionAssert.AreEqual(expected, body!["outputs"]![0]!["data"]!.AsArray().Select(n => (float)n!).ToArray(), $"caller {i} gets its own row");
        }

        var (metadataStatus, metadata) = await GetDirectAsync($"{Cluster.State.Gpu!.Url}/v2/models/heavy");
        Assert.AreEqual(200, metadataStatus);
        Assert.AreEqual("CPU", (string?)metadata!["executionProvider"]);
    }

    private static async Task<(int Status, System.Text.Json.Nodes.JsonNode? Body)> GetDirectAsync(string url)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("x-api-key", Cluster.DemoKey);
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync()));
    }
}
