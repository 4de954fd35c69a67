using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Observability;

/// <summary>
/// Issue 9: <c>/metrics</c> on every app, the admin-keyed dashboard and its data, and <c>serverless top</c>; issue 15:
/// <c>/metrics</c> only with the internal key, the dashboard's <c>?key=</c> traded for a cookie by a redirect.
/// </summary>
[TestClass]
public sealed class MetricsAndDashboardTests
{
    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    public async Task RouterAndShardMetricsCountRequests()
    {
        var tenant = Cluster.State.Tenants[0].Name;
        var routerBefore = FleetProbe.SumRequests(await FleetProbe.ScrapeAsync(Cluster, Cluster.State.RouterUrl), ("app", "router"), ("tenant", tenant), ("status", "200"));
        long shardsBefore = 0;
        foreach (var shard in Cluster.State.Shards)
        {
            shardsBefore += FleetProbe.SumRequests(await FleetProbe.ScrapeAsync(Cluster, shard.Url), ("app", "shard"), ("tenant", tenant), ("status", "200"));
        }

        await FleetProbe.LoadAsync(Cluster, 6);
        await Task.Delay(1500); // the exporter caches a scrape for a moment

        var routerText = await FleetProbe.ScrapeAsync(Cluster, Cluster.State.RouterUrl);
        StringAssert.Contains(routerText, "# TYPE serverless_request");
        var routerAfter = FleetProbe.SumRequests(routerText, ("app", "router"), ("tenant", tenant), ("status", "200"));
        Assert.IsTrue(routerAfter >= routerBefore + 6, $"router counter went from {routerBefore} to {routerAfter} after 6 requests");
        StringAssert.Contains(routerText, $"model=\"{LocalCluster.DemoModel}\"");

        long shardsAfter = 0;
        var sawCacheMetrics = false;
        foreach (var shard in Cluster.State.Shards)
        {
            var text = await FleetProbe.ScrapeAsync(Cluster, shard.Url);
            var served = FleetProbe.SumRequests(text, ("app", "shard"), ("tenant", tenant), ("status", "200"), ("shard", shard.Id));
            shardsAfter += served;
            sawCacheMetrics |= text.Contains("serverless_cache_", StringComparison.Ordinal);
            if (served > 0)
            {
                StringAssert.Contains(text, "serverless_queue_duration", $"{shard.Id} served requests but has no queue-time histogram");
                StringAssert.Contains(text, "serverless_request_duration", $"{shard.Id} served requests but has no latency histogram");
            }
        }

        Assert.IsTrue(shardsAfter >= shardsBefore + 6, $"shard counters went from {shardsBefore} to {shardsAfter} after 6 requests");
        Assert.IsTrue(sawCacheMetrics, "no shard exports the session cache's instruments");
    }

    [TestMethod]
    public async Task DashboardNeedsTheAdminKey()
    {
        Assert.IsFalse(string.IsNullOrEmpty(Cluster.State.AdminKey), "up wrote no adminKey to local.json");
        foreach (var path in new[] { "dashboard", "dashboard/data", "dashboard?key=wrong", "dashboard/data?key=wrong" })
        {
            using var response = await Cluster.Http.GetAsync(new Uri(path, UriKind.Relative));
            Assert.AreEqual(401, (int)response.StatusCode, path);
        }

        using (var wrongHeader = new HttpRequestMessage(HttpMethod.Get, "dashboard"))
        {
            wrongHeader.Headers.TryAddWithoutValidation("x-admin-key", "not-the-key");
            using var response = await Cluster.Http.SendAsync(wrongHeader);
            Assert.AreEqual(401, (int)response.StatusCode, "wrong x-admin-key");
        }

        using (var page = await Cluster.Http.GetAsync(new Uri("dashboard?key=" + Uri.EscapeDataString(Cluster.State.AdminKey), UriKind.Relative)))
        {
            Assert.AreEqual(200, (int)page.StatusCode);
            Assert.AreEqual("text/html", page.Content.Headers.ContentType?.MediaType);
            var html = await page.Content.ReadAsStringAsync();
            StringAssert.Contains(html, "/dashboard/data");
            Assert.IsFalse(html.Contains("http://", StringComparison.Ordinal) || html.Contains("https://", StringComparison.Ordinal), "the page loads something from elsewhere");
        }

        using var header = new HttpRequestMessage(HttpMethod.Get, "dashboard");
        header.Headers.TryAddWithoutValidation("x-admin-key", Cluster.State.AdminKey);
        using var byHeader = await Cluster.Http.SendAsync(header);
        Assert.AreEqual(200, (int)byHeader.StatusCode, "x-admin-key header");
    }

    [TestMethod]
    public async Task MetricsNeedTheInternalKey()
    {
        // Every app's /metrics names tenants and models: the router, a shard and the GPU app (its own Kestrel host in Azure).
        var apps = new List<(string Name, string Url)> { ("router", Cluster.State.RouterUrl), (Cluster.State.Shards[0].Id, Cluster.State.Shards[0].Url) };
        if (Cluster.State.Gpu is { } gpu)
        {
            apps.Add((gpu.Id, gpu.Url));
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var (name, url) in apps)
        {
            var metrics = new Uri(url.TrimEnd('/') + "/metrics");
            foreach (var (header, value) in new[] { ((string?)null, (string?)null), ("Authorization", "Bearer not-the-key"), ("x-serverless-internal-key", "not-the-key"), ("Authorization", "Basic " + Cluster.State.InternalKey) })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, metrics);
                if (header is not null)
                {
                    request.Headers.TryAddWithoutValidation(header, value);
                }

                using var refused = await http.SendAsync(request);
                var body = await refused.Content.ReadAsStringAsync();
                Assert.AreEqual(401, (int)refused.StatusCode, $"{name} /metrics with {header ?? "no key"}: {body}");
                StringAssert.Contains(body, "Internal__ShardKey", $"{name}: the 401 names the setting");
                StringAssert.Contains(body, "Authorization: Bearer", $"{name}: the 401 says how to send it");
                Assert.IsFalse(body.Contains("serverless_", StringComparison.Ordinal), $"{name}: a refused scrape shows series");
                Assert.AreEqual("Bearer", refused.Headers.WwwAuthenticate.ToString(), $"{name}: WWW-Authenticate");
            }

            foreach (var header in new[] { "Authorization", "x-serverless-internal-key" })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, metrics);
                request.Headers.TryAddWithoutValidation(header, header == "Authorization" ? "Bearer " + Cluster.State.InternalKey : Cluster.State.InternalKey);
                using var served = await http.SendAsync(request);
                Assert.AreEqual(200, (int)served.StatusCode, $"{name} /metrics with the key in {header}");
                StringAssert.Contains(await served.Content.ReadAsStringAsync(), "# TYPE", $"{name}: Prometheus text");
            }
        }
    }

    [TestMethod]
    public async Task DashboardKeyInTheAddressBecomesACookieAndLeavesTheAddress()
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false };
        using var http = new HttpClient(handler) { BaseAddress = Cluster.Http.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var key = Cluster.State.AdminKey;

        // A right ?key=: 303 to the same address without it (other parameters kept), the key in an HttpOnly cookie.
        using var redirect = await http.GetAsync(new Uri($"dashboard?minutes=3&key={Uri.EscapeDataString(key)}", UriKind.Relative));
        Assert.AreEqual(303, (int)redirect.StatusCode, await redirect.Content.ReadAsStringAsync());
        Assert.AreEqual("/dashboard?minutes=3", redirect.Headers.Location?.OriginalString);
        var cookie = redirect.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("serverless-admin=", StringComparison.Ordinal));
        var attributes = cookie.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        CollectionAssert.Contains(attributes, "httponly", cookie);
        CollectionAssert.Contains(attributes, "samesite=strict", cookie);
        CollectionAssert.Contains(attributes, "path=/dashboard", cookie);
        // Plain HTTP on loopback: a Secure cookie would be dropped by the browser.
        CollectionAssert.DoesNotContain(attributes, "secure", $"local http: {cookie}");
        Assert.AreEqual("no-referrer", redirect.Headers.GetValues("Referrer-Policy").Single());

        // The cookie alone opens the page and its data.
        var pair = cookie.Split(';')[0];
        foreach (var path in new[] { "dashboard?minutes=3", "dashboard/data" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.TryAddWithoutValidation("Cookie", pair);
            using var page = await http.SendAsync(request);
            Assert.AreEqual(200, (int)page.StatusCode, $"{path} with the cookie");
        }

        // Behind a front end that ended TLS (as in Azure), the cookie is Secure.
        using (var forwarded = new HttpRequestMessage(HttpMethod.Get, $"dashboard?key={Uri.EscapeDataString(key)}"))
        {
            forwarded.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
            using var response = await http.SendAsync(forwarded);
            Assert.AreEqual(303, (int)response.StatusCode);
            Assert.AreEqual("/dashboard", response.Headers.Location?.OriginalString);
            var secure = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("serverless-admin=", StringComparison.Ordinal));
            CollectionAssert.Contains(secure.Split(';', StringSplitOptions.TrimEntries).Select(a => a.ToLowerInvariant()).ToList(), "secure", secure);
        }

        // A wrong ?key= sets nothing and redirects nowhere.
        using var wrong = await http.GetAsync(new Uri("dashboard?key=wrong", UriKind.Relative));
        Assert.AreEqual(401, (int)wrong.StatusCode);
        Assert.IsFalse(wrong.Headers.Contains("Set-Cookie"), "a wrong key got a cookie");
    }

    [TestMethod]
    public async Task DashboardDataMatchesTheMetricsEndpoint()
    {
        var tenant = Cluster.State.Tenants[0].Name;
        // A publish of its own, so it is among the most recent whatever else the run has published.
        var fresh = await Cluster.PublishAsync(tenant, "dash-fresh", "1", DemoModels.Linear());
        Assert.AreEqual("Ready", fresh.State, fresh.Error);
        await FleetProbe.LoadAsync(Cluster, 5);
        string last = "";
        for (var attempt = 0; attempt < 10; attempt++)
        {
            await Task.Delay(1200); // past the dashboard's 1 s cache and the exporter's scrape cache
            var metrics = FleetProbe.SumRequests(await FleetProbe.ScrapeAsync(Cluster, Cluster.State.RouterUrl), ("app", "router"), ("tenant", tenant));
            var data = await FleetProbe.DashboardDataAsync(Cluster);
            var lifetime = FleetProbe.LifetimeOf(data, tenant);
            last = $"metrics {metrics}, dashboard {lifetime}";
            // The publishes panel is cached for 5 s: wait for the fresh publish to show up too.
            var listed = data["publishes"]!.AsArray().Any(p => (string?)p!["model"] == "dash-fresh");
            last += listed ? ", fresh publish listed" : ", fresh publish not listed yet";
            if (metrics == lifetime && metrics >= 5 && listed)
            {
                Assert.IsTrue(data["window"]!["requests"]!.GetValue<long>() >= 5, data.ToJsonString());
                Assert.AreEqual(Cluster.State.Shards.Count, data["shards"]!.AsArray().Count(s => ((string?)s!["id"])!.StartsWith("shard-", StringComparison.Ordinal)));
                Assert.IsTrue(data["shards"]!.AsArray().Any(s => s!["stats"]?["residentBytes"]?.GetValue<long>() > 0), "no shard reports resident bytes");
                Assert.IsTrue(data["hotModels"]!.AsArray().Count > 0, "no hot models are listed");
                return;
            }
        }

        Assert.Fail($"the dashboard never agreed with the router's counter and the registry for '{tenant}': {last}");
    }

    [TestMethod]
    public async Task TopOncePrintsTheShardsAndAModel()
    {
        await FleetProbe.LoadAsync(Cluster, 3);
        var (exitCode, output) = await FleetProbe.RunCliAsync(Cluster, "top", "--once");
        Assert.AreEqual(0, exitCode, output);
        foreach (var shard in Cluster.State.Shards)
        {
            StringAssert.Contains(output, shard.Id);
        }

        StringAssert.Contains(output, LocalCluster.DemoModel);
        StringAssert.Contains(output, "p99");
    }
}
