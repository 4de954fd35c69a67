using System.Globalization;
using System.Text.RegularExpressions;

namespace Serverless.Cli.Bench;

/// <summary>What the bench reads off a running cluster's processes: their RSS, and figures from their /metrics.</summary>
internal static partial class ClusterScrape
{
    internal static List<(string Name, int Pid)> Processes(BenchCluster cluster)
    {
        var list = new List<(string, int)>();
        if (cluster.State.Router is { } router)
        {
            list.Add(("router", router.Pid));
        }

        foreach (var shard in cluster.State.Shards)
        {
            list.Add((shard.Id, shard.Pid));
        }

        if (cluster.State.Publisher is { } publisher)
        {
            list.Add(("publisher", publisher.Pid));
        }

        if (cluster.State.Azurite is { } azurite)
        {
            list.Add(("azurite", azurite.Pid));
        }

        if (cluster.State.AzuriteTables is { } tables)
        {
            list.Add(("azurite-table", tables.Pid));
        }

        return list;
    }

    /// <summary>Every 250 ms until cancelled: each process's RSS, keeping the highest seen.</summary>
    internal static async Task SampleRssAsync(IReadOnlyList<(string Name, int Pid)> processes, Dictionary<string, long> peak, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            foreach (var (name, pid) in processes)
            {
                if (ProcessMemory.ResidentBytes(pid) is { } rss && rss > peak[name])
                {
                    peak[name] = rss;
                }
            }

            try
            {
                await Task.Delay(250, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Table reads so far of the router and every shard (<c>serverless_storage_reads</c> on /metrics, with the internal key).</summary>
    internal static async Task<long> StorageReadsAsync(HttpClient http, BenchCluster cluster, CancellationToken cancellationToken)
    {
        long sum = 0;
        foreach (var text in await ScrapeAllAsync(http, cluster, cancellationToken).ConfigureAwait(false))
        {
            foreach (Match match in ReadsRegex().Matches(text))
            {
                sum += (long)double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    /// <summary>Seconds the router and every shard have been paused by their GC so far (<c>dotnet_gc_pause_time</c> on /metrics).</summary>
    internal static async Task<double> GcPauseSecondsAsync(HttpClient http, BenchCluster cluster, CancellationToken cancellationToken)
    {
        double sum = 0;
        foreach (var text in await ScrapeAllAsync(http, cluster, cancellationToken).ConfigureAwait(false))
        {
            foreach (Match match in GcPauseRegex().Matches(text))
            {
                sum += double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    /// <summary>The Prometheus text of the router and every shard (with the internal key); those that do not answer are left out.</summary>
    internal static async Task<List<string>> ScrapeAllAsync(HttpClient http, BenchCluster cluster, CancellationToken cancellationToken)
    {
        var urls = new List<string> { cluster.State.RouterUrl };
        urls.AddRange(cluster.State.Shards.Select(s => s.Url));
        var texts = new List<string>();
        foreach (var url in urls)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(url), "/metrics"));
            request.Headers.TryAddWithoutValidation(Serverless.Routing.ShardHeaders.InternalKey, cluster.State.InternalKey);
            try
            {
                using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                texts.Add(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            }
            catch (HttpRequestException)
            {
            }
        }

        return texts;
    }

    [GeneratedRegex(@"^dotnet_gc_pause_time(?:_seconds)?(?:_total)?(?:\{[^}]*\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex GcPauseRegex();

    [GeneratedRegex(@"^serverless_storage_reads(?:_total)?\{[^}]*\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex ReadsRegex();
}
