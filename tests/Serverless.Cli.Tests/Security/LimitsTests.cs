using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Tests.Security;

/// <summary>Each input limit answers its 4xx through the router, with a message that names the limit.</summary>
[TestClass]
public sealed class LimitsTests
{
    private static TestCluster Cluster => SharedCluster.Instance;

    private static string Input(string name, string datatype, string shape, string data) =>
        $$"""{"name":"{{name}}","datatype":"{{datatype}}","shape":{{shape}},"data":{{data}}}""";

    [TestMethod]
    public async Task RankOverEight_Is400_NamingTheLimit()
    {
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, $$"""{"inputs":[{{Input("x", "FP32", "[1,1,1,1,1,1,1,1,4]", "[1,2,3,4]")}}]}""");

        Assert.AreEqual(400, status, body?.ToJsonString());
        StringAssert.Contains((string?)body!["error"], "rank 9");
        StringAssert.Contains((string?)body!["error"], "limit of 8 dimensions");
    }

    [TestMethod]
    public async Task BytesElementOver64KiB_Is400_NamingTheLimit()
    {
        var text = new string('s', 64 * 1024 + 1);
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, $$"""{"inputs":[{{Input("x", "BYTES", "[1]", $"[\"{text}\"]")}}]}""");

        Assert.AreEqual(400, status, body?.ToJsonString());
        StringAssert.Contains((string?)body!["error"], "limit of 65536 bytes");
    }

    [TestMethod]
    public async Task MoreThan64Inputs_Is400_NamingTheLimit()
    {
        var inputs = string.Join(',', Enumerable.Range(0, 65).Select(i => Input($"x{i}", "FP32", "[1,4]", "[1,2,3,4]")));
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, LocalCluster.DemoModel, $$"""{"inputs":[{{inputs}}]}""");

        Assert.AreEqual(400, status, body?.ToJsonString());
        StringAssert.Contains((string?)body!["error"], "more than 64 inputs");
    }

    [TestMethod]
    public async Task BodyOverTheLimit_Is413_NamingTheLimit()
    {
        var limit = 32L * 1024 * 1024;
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v2/models/{LocalCluster.DemoModel}/infer")
        {
            Content = new ByteArrayContent(new byte[limit + 1]),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Cluster.DemoKey);
        // As a client of large uploads should: the router answers 413 from the length alone, before any byte is sent.
        request.Headers.ExpectContinue = true;

        using var response = await Cluster.Http.SendAsync(request);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync());

        Assert.AreEqual(HttpStatusCode.RequestEntityTooLarge, response.StatusCode, body?.ToJsonString());
        StringAssert.Contains((string?)body!["error"], $"limit of {limit} bytes");
        Assert.IsTrue(Cluster.AllProcessesAlive());
    }

    [TestMethod]
    public async Task BodyUnderTheLimitButOverTheHostsDefault_IsReadWhole()
    {
        // 31 MB of JSON whitespace after a small request: over the web host's default body limit (Kestrel's
        // 30,000,000 bytes), under the router's (32 MiB): read whole and answered, through router and shard.
        var json = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""" + new string(' ', 31_000_000);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v2/models/{LocalCluster.DemoModel}/infer") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Cluster.DemoKey);

        using var response = await Cluster.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.AreEqual(200, (int)response.StatusCode, text);
        Assert.IsTrue(Cluster.AllProcessesAlive());
    }

    [TestMethod]
    public async Task UnparsableTimeoutHeader_Is400_NamingTheHeader()
    {
        var (status, body) = await InferWithTimeoutAsync(Cluster.DemoKey, LocalCluster.DemoModel, """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""", "soon");

        Assert.AreEqual(400, status, body?.ToJsonString());
        StringAssert.Contains((string?)body!["error"], "x-request-timeout-ms");
    }

    /// <summary>
    /// A model that takes a while (chained 1024×1024 matrix products): its time unhurried is measured, then a
    /// deadline of a fifth of it answers 504 saying "deadline"; a deadline above it changes nothing.
    /// </summary>
    [TestMethod]
    [Timeout(180_000)]
    public async Task DeadlineShorterThanTheModel_Is504_SayingDeadline()
    {
        const string model = "limits-slow";
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("demo", model, "1", DemoModels.Slow(1024, 8))).State);
        const string json = """{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[0]}]}""";

        var (warm, warmBody) = await InferWithTimeoutAsync(Cluster.DemoKey, model, json, null); // loads the model
        Assert.AreEqual(200, warm, warmBody?.ToJsonString());
        var clock = Stopwatch.StartNew();
        var (unhurried, unhurriedBody) = await InferWithTimeoutAsync(Cluster.DemoKey, model, json, "30000");
        var took = clock.Elapsed;
        Assert.AreEqual(200, unhurried, unhurriedBody?.ToJsonString());

        var deadline = Math.Max(1, (long)(took.TotalMilliseconds / 5));
        var (status, body) = await InferWithTimeoutAsync(Cluster.DemoKey, model, json, deadline.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.AreEqual(504, status, $"the model took {took.TotalMilliseconds:F0} ms unhurried; deadline {deadline} ms: {body?.ToJsonString()}");
        StringAssert.Contains((string?)body!["error"], "deadline");
        StringAssert.Contains((string?)body!["error"], $"{deadline} ms");
        Assert.IsTrue(Cluster.AllProcessesAlive());
    }

    private static async Task<(int Status, JsonNode? Body)> InferWithTimeoutAsync(string key, string model, string json, string? timeoutMs)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v2/models/{model}/infer") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (timeoutMs is not null)
        {
            request.Headers.TryAddWithoutValidation("x-request-timeout-ms", timeoutMs);
        }

        using var response = await Cluster.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }
}
