using System.Net;
using System.Text;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Security;

/// <summary>
/// Direct mode inside the rules: a client calling a shard with its own key is served only where the router would
/// send it (its tenant's shards for the model's pool and placement), and within its quota, applied by the shard.
/// </summary>
[TestClass]
public sealed class DirectModeTests
{
    private const string Json = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    [Timeout(120_000)]
    public async Task TenantWithAQuotaOf20_GetsAtMostTwiceItsQuota_FromItsShard_And404Elsewhere()
    {
        var key = await Cluster.Tenants.AddKeyAsync("direct-quota", 1, 20, CancellationToken.None);
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("direct-quota", "direct", "1", DemoModels.Linear())).State);
        var (status, placement) = await Cluster.GetAsync(key, "v2/models/direct/placement");
        Assert.AreEqual(200, status, placement?.ToJsonString());
        var replica = (string)placement!["replicas"]![0]!["id"]!;
        var own = Cluster.State.Shards.Single(s => s.Id == replica);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var (first, firstBody) = await InferAsync(http, own.Url, key);
        Assert.AreEqual(200, first, firstBody);

        // Elsewhere: another shard of the cpu pool (k = 1, one replica), and the GPU app for a cpu model.
        foreach (var other in Cluster.State.Shards.Where(s => s.Id != replica).Append(Cluster.State.Gpu!))
        {
            var (refused, body) = await InferAsync(http, other.Url, key);
            Assert.AreEqual(404, refused, $"{other.Id}: {body}");
            StringAssert.Contains(body, $"not served by '{other.Id}'");
            var (metadata, metadataBody) = await SendAsync(http, HttpMethod.Get, $"{other.Url}/v2/models/direct", key, null);
            Assert.AreEqual(404, metadata, $"{other.Id} metadata: {metadataBody}");
        }

        // Eight callers without pause for 5 s against the tenant's own shard: at most the one-second burst plus
        // 20 a second are answered 200 (120), and certainly no more than twice the quota over the window.
        var answered = 0;
        var throttled = 0;
        var until = DateTime.UtcNow.AddSeconds(5);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (DateTime.UtcNow < until)
            {
                var (code, _) = await InferAsync(http, own.Url, key);
                if (code == 200)
                {
                    Interlocked.Increment(ref answered);
                }
                else if (code == 429)
                {
                    Interlocked.Increment(ref throttled);
                }
            }
        })));

        Assert.IsTrue(answered <= 2 * 20 * 5, $"{answered} answered in 5 s with a quota of 20/s ({throttled} throttled)");
        Assert.IsTrue(answered >= 20, $"only {answered} answered: the quota should admit about 120");
        Assert.IsTrue(throttled > 100, $"only {throttled} throttled");

        var (over, overBody) = await InferAsync(http, own.Url, key);
        if (over == 429)
        {
            StringAssert.Contains(overBody, "over its request quota");
        }
    }

    private static Task<(int Status, string Body)> InferAsync(HttpClient http, string baseUrl, string key) =>
        SendAsync(http, HttpMethod.Post, $"{baseUrl}/v2/models/direct/versions/1/infer", key, Json);

    private static async Task<(int Status, string Body)> SendAsync(HttpClient http, HttpMethod method, string url, string key, string? json)
    {
        using var request = new HttpRequestMessage(method, url);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        request.Headers.TryAddWithoutValidation("x-api-key", key);
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
