using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.Routing;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Tests.Scoring;

/// <summary>
/// A model's first request on a shard: with the router's hash of the version, the shard starts reading the bytes
/// while it reads the registry row, and uses them only if the row names the same blob.
/// </summary>
[TestClass]
public sealed class ReadAheadTests
{
    private const string ReadAheadMarker = "bytes read ahead of the registry row";
    private const string Body = """{"inputs":[{"name":"ahead_in","shape":[2],"datatype":"FP32","data":[0.5,-4]}]}""";

    [TestMethod]
    [Timeout(60_000)]
    public async Task FirstRoutedRequest_ReadsTheBytesAheadOfTheRegistryRow()
    {
        var cluster = SharedCluster.Instance;
        var outcome = await cluster.PublishAsync("demo", "read-ahead", "1", DemoModels.Identity("ahead_in", OnnxElementType.Float, "n"));
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);

        var (status, body, response) = await cluster.InferAsync(cluster.DemoKey, "read-ahead", Body);

        Assert.AreEqual(200, status, body?.ToJsonString());
        Assert.AreEqual("miss", response.Headers.GetValues("x-cache").Single());
        CollectionAssert.AreEqual(new[] { 0.5f, -4f }, body!["outputs"]![0]!["data"]!.AsArray().Select(n => (float)n!).ToArray());
        var line = await LoadLineAsync(cluster, response.Headers.GetValues("x-served-by").Single(), "demo/read-ahead/1");
        StringAssert.Contains(line, ReadAheadMarker, "the first routed request's bytes were read while the registry was");
    }

    [TestMethod]
    [Timeout(60_000)]
    public async Task AWrongHash_IsNotServed_TheRegistryRowDecidesWhichBytesLoad()
    {
        var cluster = SharedCluster.Instance;
        var outcome = await cluster.PublishAsync("demo", "read-ahead-wrong", "1", DemoModels.Identity("ahead_in", OnnxElementType.Float, "n"));
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
        var shard = cluster.State.Shards[0];

        // As the router would call, but with the hash of other bytes: the read ahead goes to a blob that is not
        // there, and the load takes the row's blob.
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{shard.Url}/v2/models/read-ahead-wrong/versions/1/infer") { Content = new StringContent(Body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add(ShardHeaders.InternalKey, cluster.State.InternalKey);
        request.Headers.Add(ShardHeaders.Tenant, "demo");
        request.Headers.Add(ShardHeaders.ModelSha256, new string('0', 64));
        using var response = await http.SendAsync(request);

        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(200, (int)response.StatusCode, text);
        StringAssert.Contains(text, "[0.5,-4]");
        var line = await LoadLineAsync(cluster, shard.Id, "demo/read-ahead-wrong/1");
        Assert.IsFalse(line.Contains(ReadAheadMarker, StringComparison.Ordinal), line);
        StringAssert.Contains(line, outcome.Row!.SizeBytes + " bytes");
    }

    /// <summary>The shard's log line for the load of <paramref name="version"/> (the console log is written asynchronously: bounded wait).</summary>
    private static async Task<string> LoadLineAsync(TestCluster cluster, string shardId, string version)
    {
        var log = Path.Combine(cluster.Directory.LogsPath, shardId + ".log");
        for (var i = 0; i < 50; i++)
        {
            using (var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            using (var reader = new StreamReader(stream))
            {
                var lines = (await reader.ReadToEndAsync()).Split('\n');
                if (lines.FirstOrDefault(l => l.Contains($"Loaded {version} (", StringComparison.Ordinal)) is { } line)
                {
                    return line;
                }
            }

            await Task.Delay(100);
        }

        Assert.Fail($"no load of {version} in {log}");
        return "";
    }
}
