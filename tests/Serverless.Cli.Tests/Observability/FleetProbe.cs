using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;

namespace Serverless.Cli.Tests.Observability;

/// <summary>What the observability tests share: a small load, Prometheus scrapes, the dashboard's JSON, the CLI.</summary>
internal static partial class FleetProbe
{
    public const string Body = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    /// <summary>Sends <paramref name="count"/> requests for the demo model; all must answer 200.</summary>
    public static async Task LoadAsync(TestCluster cluster, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var (status, body, _) = await cluster.InferAsync(cluster.DemoKey, LocalCluster.DemoModel, Body);
            Assert.AreEqual(200, status, body?.ToJsonString());
        }
    }

    /// <summary>The Prometheus text of an app's <c>/metrics</c>, scraped with the cluster's internal key as Prometheus sends it (a bearer token).</summary>
    public static async Task<string> ScrapeAsync(TestCluster cluster, string baseUrl)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUrl.TrimEnd('/') + "/metrics"));
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", cluster.State.InternalKey);
        using var response = await http.SendAsync(request);
        Assert.AreEqual(200, (int)response.StatusCode, $"{baseUrl}/metrics");
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>Sum of the <c>serverless_requests</c> counter's samples whose labels include every given one.</summary>
    public static long SumRequests(string prometheusText, params (string Label, string Value)[] labels)
    {
        long sum = 0;
        foreach (Match match in SampleRegex().Matches(prometheusText))
        {
            var set = match.Groups["labels"].Value;
            if (labels.All(l => set.Contains($"{l.Label}=\"{l.Value}\"", StringComparison.Ordinal)))
            {
                sum += (long)double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    /// <summary>GET /dashboard/data with the admin key.</summary>
    public static async Task<JsonNode> DashboardDataAsync(TestCluster cluster)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "dashboard/data");
        request.Headers.TryAddWithoutValidation("x-admin-key", cluster.State.AdminKey);
        using var response = await cluster.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(200, (int)response.StatusCode, text);
        return JsonNode.Parse(text)!;
    }

    /// <summary>A tenant's lifetime requests in the dashboard's JSON (0 when absent).</summary>
    public static long LifetimeOf(JsonNode data, string tenant) =>
        data["lifetime"]!.AsArray().FirstOrDefault(t => (string?)t!["tenant"] == tenant)?["requests"]?.GetValue<long>() ?? 0;

    /// <summary>Runs the CLI (the built Serverless.Cli.dll) against the cluster's state folder.</summary>
    public static async Task<(int ExitCode, string Output)> RunCliAsync(TestCluster cluster, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Serverless.Cli.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["SERVERLESS_HOME"] = cluster.Directory.Path;
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    // A sample line: name{labels} value [timestamp]; the counter is serverless_requests or serverless_requests_total.
    [GeneratedRegex(@"^serverless_requests(?:_total)?\{(?<labels>[^}]*)\}\s+(?<value>[0-9.eE+-]+)", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex SampleRegex();
}
