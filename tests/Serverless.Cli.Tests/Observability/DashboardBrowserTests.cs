using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Observability;

/// <summary>
/// Opens the dashboard in headless Chromium (Debian's <c>chromium</c>, which .ci/run installs) against the
/// shared cluster under a small load: the figures the page renders match the router's <c>/metrics</c>, and the
/// screenshot is a real picture (kept in artifacts/test-results; also written to docs/dashboard.png when
/// SERVERLESS_SAVE_SCREENSHOT=1).
/// </summary>
[TestClass]
public sealed partial class DashboardBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    public async Task DashboardRendersTheFiguresOfTheMetricsEndpoint()
    {
        if (!File.Exists(Chromium))
        {
            Assert.Inconclusive($"{Chromium} is not installed (apt-get install chromium; .ci/run installs it)");
        }

        // A small load from two tenants, a rejected publish, and requests for a model that does not exist (404s).
        var acmeKey = await Cluster.Tenants.AddKeyAsync("acme", 2, null, CancellationToken.None);
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync("acme", "scorer", "1", DemoModels.Linear())).State);
        Assert.AreEqual(ModelStates.Rejected, (await Cluster.PublishAsync("acme", "broken", "1", DemoModels.UnknownOperator())).State);
        await FleetProbe.LoadAsync(Cluster, 25);
        for (var i = 0; i < 12; i++)
        {
            var (status, body, _) = await Cluster.InferAsync(acmeKey, "scorer", FleetProbe.Body);
            Assert.AreEqual(200, status, body?.ToJsonString());
        }

        for (var i = 0; i < 3; i++)
        {
            var (status, _, _) = await Cluster.InferAsync(Cluster.DemoKey, "no-such-model", FleetProbe.Body);
            Assert.AreEqual(404, status);
        }

        await Task.Delay(1500);
        var url = $"{Cluster.State.RouterUrl}/dashboard?key={Uri.EscapeDataString(Cluster.State.AdminKey)}";
        var profile = Directory.CreateTempSubdirectory("serverless-chromium-");
        try
        {
            var dom = await RunChromiumAsync(profile.FullName, "--dump-dom", "--virtual-time-budget=6000", url);
            Assert.IsTrue(dom.Contains("data-ready=\"1\"", StringComparison.Ordinal), "the page never rendered its data:\n" + Head(dom));

            var tenant = Cluster.State.Tenants[0].Name;
            var metrics = FleetProbe.SumRequests(await FleetProbe.ScrapeAsync(Cluster, Cluster.State.RouterUrl), ("app", "router"), ("tenant", tenant));
            var shown = long.Parse(Match(dom, $"data-lifetime-tenant=\"{Regex.Escape(tenant)}\">(\\d+)<"), System.Globalization.CultureInfo.InvariantCulture);
            Assert.AreEqual(metrics, shown, $"the page shows {shown} requests for '{tenant}', /metrics counts {metrics}");

            var data = await FleetProbe.DashboardDataAsync(Cluster);
            var windowShown = Match(dom, "id=\"total-requests\">([0-9,]+)<").Replace(",", "", StringComparison.Ordinal);
            Assert.AreEqual(data["window"]!["requests"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture), windowShown, "requests in the window");
            foreach (var shard in Cluster.State.Shards)
            {
                StringAssert.Contains(dom, $"data-shard=\"{shard.Id}\"");
            }

            StringAssert.Contains(dom, $"data-model=\"{tenant}/{LocalCluster.DemoModel}\"");

            var screenshot = Path.Combine(profile.FullName, "dashboard.png");
            await RunChromiumAsync(profile.FullName, $"--screenshot={screenshot}", "--window-size=1280,900", "--virtual-time-budget=6000", url);
            Assert.IsTrue(File.Exists(screenshot), "no screenshot written");
            var png = await File.ReadAllBytesAsync(screenshot);
            Assert.IsTrue(png.Length > 20_000 && png[0] == 0x89 && png[1] == (byte)'P' && png[2] == (byte)'N' && png[3] == (byte)'G', $"the screenshot is not a real picture ({png.Length} bytes)");

            var root = StateDirectory.RepositoryRoot();
            if (root is not null)
            {
                var results = Path.Combine(root, "artifacts", "test-results");
                Directory.CreateDirectory(results);
                File.Copy(screenshot, Path.Combine(results, "dashboard.png"), overwrite: true);
                if (Environment.GetEnvironmentVariable("SERVERLESS_SAVE_SCREENSHOT") == "1")
                {
                    File.Copy(screenshot, Path.Combine(root, "docs", "dashboard.png"), overwrite: true);
                }
            }
        }
        finally
        {
            try
            {
                profile.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string Match(string dom, string pattern)
    {
        var match = Regex.Match(dom, pattern, RegexOptions.CultureInvariant);
        Assert.IsTrue(match.Success, $"'{pattern}' not in the rendered page:\n{Head(dom)}");
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    private static string Head(string text) => text.Length > 3000 ? text[..3000] + "…" : text;

    /// <summary>Runs headless Chromium with the test's flags; returns its standard output.</summary>
    private static async Task<string> RunChromiumAsync(string profile, params string[] args)
    {
        var start = new ProcessStartInfo(Chromium) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var flag in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", $"--user-data-dir={profile}" })
        {
            start.ArgumentList.Add(flag);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new AssertFailedException("chromium did not finish within 90 s: " + await stderr);
        }

        return await stdout;
    }
}
