using System.Text;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Security;

/// <summary>
/// Tenant A's key never reads, lists or scores tenant B's models, at the router and at the shards directly
/// (404, so names do not leak); a shard trusts the router's tenant header only with the internal key.
/// </summary>
[TestClass]
public sealed class TenantIsolationTests
{
    private const string Json = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";
    private static readonly string Suffix = Guid.NewGuid().ToString("N")[..6];
    private static readonly string TenantA = "iso-a-" + Suffix;
    private static readonly string TenantB = "iso-b-" + Suffix;
    private static string s_keyA = "";
    private static string s_keyB = "";

    private static TestCluster Cluster => SharedCluster.Instance;

    [ClassInitialize]
    public static async Task SetUpAsync(TestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        s_keyA = await Cluster.Tenants.AddKeyAsync(TenantA, null, CancellationToken.None);
        s_keyB = await Cluster.Tenants.AddKeyAsync(TenantB, null, CancellationToken.None);
        // B has a model A has not, and a model whose name A uses too (with fewer versions).
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync(TenantB, "secret-b", "1", DemoModels.Linear())).State);
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync(TenantB, "same-name", "1", DemoModels.Linear())).State);
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync(TenantB, "same-name", "2", DemoModels.Linear())).State);
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync(TenantA, "same-name", "1", DemoModels.Linear())).State);
    }

    [TestMethod]
    public async Task TenantB_ReachesItsOwnModel_EveryEndpoint()
    {
        foreach (var path in RouterGets("secret-b", "1"))
        {
            Assert.AreEqual(200, (await Cluster.GetAsync(s_keyB, path)).Status, path);
        }

        Assert.AreEqual(200, (await Cluster.InferAsync(s_keyB, "secret-b", Json)).Status);
        Assert.AreEqual(200, (await Cluster.InferAsync(s_keyB, "secret-b", Json, version: "1")).Status);
    }

    [TestMethod]
    public async Task TenantA_GetsA404_ForTenantBsModel_AtEveryRouterEndpoint()
    {
        foreach (var path in RouterGets("secret-b", "1"))
        {
            var (status, body) = await Cluster.GetAsync(s_keyA, path);
            Assert.AreEqual(404, status, $"{path}: {body?.ToJsonString()}");
            Assert.IsFalse(body?.ToJsonString().Contains(TenantB, StringComparison.Ordinal) ?? false, $"{path} names tenant B: {body?.ToJsonString()}");
        }

        var (infer, inferBody, _) = await Cluster.InferAsync(s_keyA, "secret-b", Json);
        var (inferVersion, _, _) = await Cluster.InferAsync(s_keyA, "secret-b", Json, version: "1");
        Assert.AreEqual(404, infer, inferBody?.ToJsonString());
        Assert.AreEqual(404, inferVersion);
    }

    [TestMethod]
    public async Task TenantA_SeesOnlyItsOwnVersions_OfAModelNameBothUse()
    {
        var (status, body) = await Cluster.GetAsync(s_keyA, "v2/models/same-name");
        Assert.AreEqual(200, status);
        CollectionAssert.AreEqual(new[] { "1" }, body!["versions"]!.AsArray().Select(v => (string?)v).ToArray(), body.ToJsonString());

        Assert.AreEqual(404, (await Cluster.GetAsync(s_keyA, "v2/models/same-name/versions/2")).Status);
        Assert.AreEqual(404, (await Cluster.GetAsync(s_keyA, "v2/models/same-name/versions/2/ready")).Status);
        Assert.AreEqual(404, (await Cluster.GetAsync(s_keyA, "v2/models/same-name/versions/2/placement")).Status);
        Assert.AreEqual(404, (await Cluster.InferAsync(s_keyA, "same-name", Json, version: "2")).Status);
        var (own, ownBody, _) = await Cluster.InferAsync(s_keyA, "same-name", Json);
        Assert.AreEqual(200, own, ownBody?.ToJsonString());
        Assert.AreEqual("1", (string?)ownBody!["model_version"]);
    }

    [TestMethod]
    public async Task TenantA_GetsA404_ForTenantBsModel_AtEveryShardEndpoint()
    {
        foreach (var shard in Cluster.State.Shards)
        {
            foreach (var (method, path) in ShardCalls("secret-b", "1"))
            {
                var (status, body) = await CallShardAsync(shard.Url, method, path, request => request.Headers.TryAddWithoutValidation("x-api-key", s_keyA));
                Assert.AreEqual(404, status, $"{shard.Id} {method} {path}: {body}");
            }
        }
    }

    [TestMethod]
    public async Task Shard_WithOnlyTheTenantHeader_Is401_AtEveryEndpoint()
    {
        var shard = Cluster.State.Shards[0];
        foreach (var (method, path) in ShardCalls("secret-b", "1"))
        {
            var (bare, bareBody) = await CallShardAsync(shard.Url, method, path, request => request.Headers.TryAddWithoutValidation("x-serverless-tenant", TenantB));
            Assert.AreEqual(401, bare, $"{method} {path} with only x-serverless-tenant: {bareBody}");

            var (wrong, wrongBody) = await CallShardAsync(shard.Url, method, path, request =>
            {
                request.Headers.TryAddWithoutValidation("x-serverless-tenant", TenantB);
                request.Headers.TryAddWithoutValidation("x-serverless-internal-key", "not-the-key");
            });
            Assert.AreEqual(401, wrong, $"{method} {path} with a wrong internal key: {wrongBody}");
        }
    }

    [TestMethod]
    public async Task Shard_TrustsTheTenantHeader_WithTheInternalKey()
    {
        Assert.IsFalse(string.IsNullOrEmpty(Cluster.State.InternalKey), "the local cluster made an internal key");
        var shard = Cluster.State.Shards[0];
        var (status, body) = await CallShardAsync(shard.Url, HttpMethod.Post, "v2/models/secret-b/versions/1/infer", request =>
        {
            request.Headers.TryAddWithoutValidation("x-serverless-tenant", TenantB);
            request.Headers.TryAddWithoutValidation("x-serverless-internal-key", Cluster.State.InternalKey);
        });
        Assert.AreEqual(200, status, body);
    }

    private static string[] RouterGets(string model, string version) =>
    [
        $"v2/models/{model}",
        $"v2/models/{model}/versions/{version}",
        $"v2/models/{model}/ready",
        $"v2/models/{model}/versions/{version}/ready",
        $"v2/models/{model}/placement",
        $"v2/models/{model}/versions/{version}/placement",
    ];

    private static (HttpMethod Method, string Path)[] ShardCalls(string model, string version) =>
    [
        (HttpMethod.Get, $"v2/models/{model}"),
        (HttpMethod.Get, $"v2/models/{model}/versions/{version}"),
        (HttpMethod.Get, $"v2/models/{model}/ready"),
        (HttpMethod.Get, $"v2/models/{model}/versions/{version}/ready"),
        (HttpMethod.Post, $"v2/models/{model}/infer"),
        (HttpMethod.Post, $"v2/models/{model}/versions/{version}/infer"),
        (HttpMethod.Post, $"v2/repository/models/{model}/versions/{version}/load"),
        (HttpMethod.Post, $"v2/repository/models/{model}/versions/{version}/unload"),
    ];

    private static async Task<(int Status, string Body)> CallShardAsync(string baseUrl, HttpMethod method, string path, Action<HttpRequestMessage> credentials)
    {
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(method, path);
        if (method == HttpMethod.Post)
        {
            request.Content = new StringContent(path.EndsWith("/infer", StringComparison.Ordinal) ? Json : "", Encoding.UTF8, "application/json");
        }

        credentials(request);
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
