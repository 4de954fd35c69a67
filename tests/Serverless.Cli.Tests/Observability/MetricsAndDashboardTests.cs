using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Observability;

/// <summary>Issue 9: <c>/metrics</c> on every app, the admin-keyed dashboard and its data, and <c>serverless top</c>.</summary>
[TestClass]
public sealed class MetricsAndDashboardTests
{
    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    public async Task RouterAndShardMetricsCountRequests()
    {
        var tenant = Cluster.State.Tenants[0].Name;
        var routerBefore = FleetProbe.SumRequests(await FleetProbe.ScrapeAsync(Cluster.State.RouterUrl), ("app", "router"), ("tenant", tenant), ("status", "200"));
        long shardsBefore = 0;
        foreach (var shard in Cluster.State.Shards)
        {
            shardsBefore += FleetProbe.SumRequests(await FleetProbe.ScrapeAsync(shard.Url), ("app", "shard"), ("tenant", tenant), ("status", "200"));
        }

        await FleetProbe.LoadAsync(Cluster, 6);
        await Task.Delay(1500); // the exporter caches a scrape for a moment

        var routerText = await FleetProbe.ScrapeAsync(Cluster.State.RouterUrl);
        StringAssert.Contains(routerText, "# TYPE serverless_request");
        var routerAfter = FleetProbe.SumRequests(routerText, ("app", "router"), ("tenant", tenant), ("status", "200"));
        Assert.IsTrue(routerAfter >= routerBefore + 6, $"router counter went from {routerBefore} to {routerAfter} after 6 requests");
        StringAssert.Contains(routerText, $"model=\"{LocalCluster.DemoModel}\"");

        long shardsAfter = 0;
        var sawCacheMetrics = false;
        foreach (var shard in Cluster.State.Shards)
        {
            var text = await FleetProbe.ScrapeAsync(shard.Url);
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
            var metrics = FleetProbe.SumRequests(await FleetProbe.ScrapeAsync(Cluster.State.RouterUrl), ("app", "router"), ("tenant", tenant));
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
