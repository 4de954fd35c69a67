using System.CommandLine;
using System.Globalization;
using System.Net.Http.Json;
using Serverless.Cli.Cluster;
using Serverless.Core.Observability;
using Spectre.Console;
using Spectre.Console.Rendering;
using Serverless.Routing;

namespace Serverless.Cli.Commands;

/// <summary>
/// <c>serverless top [--once] [--url U --key K]</c>: the dashboard's figures in the terminal, refreshed live
/// (every 2 s by default) from the router's <c>/dashboard/data</c>, with the admin key of local.json.
/// </summary>
internal static class TopCommand
{
    /// <summary>Publishes shown in a frame; the rest are counted in the footer.</summary>
    private const int ShownPublishes = 8;

    public static Command Create()
    {
        var once = new Option<bool>("--once") { Description = "Print one frame and exit" };
        var url = new Option<string?>("--url") { Description = "Router URL (default: the local cluster's)" };
        var key = new Option<string?>("--key") { Description = "Router admin key, Router__AdminKey (default: the local cluster's)" };
        var interval = new Option<double>("--interval") { Description = "Seconds between refreshes", DefaultValueFactory = _ => 2 };
        var minutes = new Option<int>("--minutes") { Description = "Window in minutes (at most 5)", DefaultValueFactory = _ => 5 };
        var command = new Command("top", "Live view of the fleet: load per shard and tenant, hot models, caches, latency, publishes") { once, url, key, interval, minutes };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var routerUrl = parse.GetValue(url);
            var adminKey = parse.GetValue(key);
            if (routerUrl is null || adminKey is null)
            {
                var directory = StateDirectory.Default();
                var state = directory.Read();
                if (state is null)
                {
                    Console.Error.WriteLine($"error: no local cluster found ({directory.StateFile} is missing): run `tools/serverless up` first, or give --url and --key");
                    return 1;
                }

                routerUrl ??= state.RouterUrl;
                adminKey ??= state.AdminKey;
            }

            using var http = new HttpClient { BaseAddress = new Uri(routerUrl.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(10) };
            http.DefaultRequestHeaders.TryAddWithoutValidation(DashboardService.AdminKeyHeader, adminKey);
            var path = $"dashboard/data?minutes={parse.GetValue(minutes)}";
            AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 150);
            if (parse.GetValue(once))
            {
                var (data, error) = await FetchAsync(http, path, cancellationToken).ConfigureAwait(false);
                if (data is null)
                {
                    Console.Error.WriteLine($"error: {error}");
                    return 1;
                }

                AnsiConsole.Write(Render(data, routerUrl));
                return 0;
            }

            var delay = TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(interval), 0.5, 3600));
            try
            {
                await AnsiConsole.Live(new Text("loading…")).AutoClear(false).StartAsync(async live =>
                {
                    while (!cancellationToken.IsCancellationRequested)
                    {
                        var (data, error) = await FetchAsync(http, path, cancellationToken).ConfigureAwait(false);
                        live.UpdateTarget(data is null ? new Markup($"[red]{Markup.Escape(error ?? "no answer")}[/] (retrying)") : Render(data, routerUrl));
                        live.Refresh();
                        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                    }
                }).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }

            return 0;
        });
        return command;
    }

    private static async Task<(DashboardData? Data, string? Error)> FetchAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative), cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                return (null, $"{http.BaseAddress}{path} answered {(int)response.StatusCode}: {body}");
            }

            return (await response.Content.ReadFromJsonAsync(DashboardJsonContext.Default.DashboardData, cancellationToken).ConfigureAwait(false), null);
        }
        catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return (null, $"{http.BaseAddress}: {e.Message}");
        }
    }

    /// <summary>One frame: totals, shards, load per shard and tenant, hot models, recent publishes.</summary>
    internal static IRenderable Render(DashboardData d, string routerUrl)
    {
        var w = d.Window;
        var header = new Markup(
            $"[bold]serverless top[/]  {Markup.Escape(routerUrl)}  [grey]{d.GeneratedAt.ToLocalTime():HH:mm:ss}, last {d.WindowMinutes} min[/]\n" +
            $"requests [bold]{w.Requests:N0}[/] ({w.RequestsPerSecond.ToString("0.##", CultureInfo.InvariantCulture)}/s)   p50 [bold]{Ms(w.P50Ms)}[/]   p99 [bold]{Ms(w.P99Ms)}[/]   " +
            $"5xx [{(w.Errors > 0 ? "red" : "green")}]{w.Errors:N0}[/]   4xx {w.Rejected:N0}   shards live [bold]{d.Shards.Count(s => s.Live)}/{d.Shards.Count}[/]");

        var shards = new Table().Title("shards").AddColumns("shard", "pool", "state", "requests", "hit rate", "resident", "budget", "sessions", "loads", "load ms", "evictions");
        foreach (var s in d.Shards)
        {
            var st = s.Stats;
            shards.AddRow(
                Markup.Escape(s.Id), s.Pool, s.Live ? $"[green]{Markup.Escape(s.State)}[/]" : $"[red]down[/]{(s.Error is null ? "" : " " + Markup.Escape(s.Error))}",
                s.Requests.ToString("N0", CultureInfo.InvariantCulture),
                s.HitRate is { } rate ? (rate * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %" : "-",
                st is null ? "-" : Bytes(st.ResidentBytes), st is null ? "-" : Bytes(st.CacheBytes),
                st?.Sessions.ToString(CultureInfo.InvariantCulture) ?? "-", st?.Loads.ToString("N0", CultureInfo.InvariantCulture) ?? "-",
                st?.MeanLoadMs.ToString("0.0", CultureInfo.InvariantCulture) ?? "-", st?.Evictions.ToString("N0", CultureInfo.InvariantCulture) ?? "-");
        }

        var heat = new Table().Title("load: shards × tenants (requests in window)").AddColumn("shard");
        var tenants = d.Tenants.Take(12).ToList();
        foreach (var t in tenants)
        {
            heat.AddColumn(new TableColumn(Markup.Escape(t)).RightAligned());
        }

        var cells = d.Heat.ToDictionary(c => (c.Shard, c.Tenant), c => c.Requests);
        var max = Math.Max(1, d.Heat.Count == 0 ? 1 : d.Heat.Max(c => c.Requests));
        foreach (var s in d.Shards)
        {
            var row = new List<string> { Markup.Escape(s.Id) };
            foreach (var t in tenants)
            {
                var n = cells.GetValueOrDefault((s.Id, t));
                row.Add(n == 0 ? "[grey]·[/]" : $"[{HeatColor(n, max)}]{n:N0}[/]");
            }

            heat.AddRow(row.ToArray());
        }

        var hot = new Table().Title("hottest models").AddColumns("tenant", "model", "requests", "5xx", "served by", "replicas");
        foreach (var m in d.HotModels)
        {
            hot.AddRow(Markup.Escape(m.Tenant), Markup.Escape(m.Model), m.Requests.ToString("N0", CultureInfo.InvariantCulture), m.Errors.ToString("N0", CultureInfo.InvariantCulture),
                Markup.Escape(string.Join(", ", m.ServedBy)), Markup.Escape(string.Join(", ", m.Replicas)));
        }

        var publishes = new Table().Title("recent publishes").AddColumns("published", "tenant", "model", "version", "state", "reason");
        foreach (var p in d.Publishes.Take(ShownPublishes))
        {
            var state = p.State switch { "Ready" => "[green]Ready[/]", "Rejected" => "[red]Rejected[/]", _ => Markup.Escape(p.State) };
            var reason = p.Error is null ? "" : Markup.Escape(p.Error.Length > 70 ? p.Error[..70] + "…" : p.Error);
            publishes.AddRow(p.PublishedAt.ToLocalTime().ToString("MM-dd HH:mm:ss", CultureInfo.InvariantCulture), Markup.Escape(p.Tenant), Markup.Escape(p.Model), Markup.Escape(p.Version), state, reason);
        }

        var footer = new List<string>();
        var morePublishes = d.MorePublishes + Math.Max(0, d.Publishes.Count - ShownPublishes);
        if (morePublishes > 0)
        {
            footer.Add($"and {morePublishes.ToString("N0", CultureInfo.InvariantCulture)} more publishes in the last 7 days");
        }

        if (d.MoreTenants > 0 || d.Tenants.Count > tenants.Count)
        {
            footer.Add($"and {(d.MoreTenants + d.Tenants.Count - tenants.Count).ToString("N0", CultureInfo.InvariantCulture)} more tenants than the heat map shows");
        }

        if (d.Registry is { } r)
        {
            footer.Add(string.Create(CultureInfo.InvariantCulture,
                $"registry: {r.Models:N0} models, {r.Versions:N0} versions ({r.Ready:N0} Ready, {r.Rejected:N0} Rejected, {r.Retired:N0} Retired) in {r.Tenants.Count + r.MoreTenants:N0} tenants{(r.Capped ? $", capped: the first {r.RowsRead:N0} rows only" : "")}"));
        }

        return new Rows(header, shards, heat, hot, publishes, new Markup("[grey]" + Markup.Escape(string.Join("\n", footer)) + "[/]"));
    }

    private static string HeatColor(long n, long max) => ((double)n / max) switch
    {
        > 0.66 => "bold red",
        > 0.33 => "yellow",
        _ => "green",
    };

    private static string Ms(double ms) => ms.ToString(ms < 10 ? "0.00" : "0", CultureInfo.InvariantCulture) + " ms";

    private static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return value.ToString(unit == 0 ? "0" : "0.0", CultureInfo.InvariantCulture) + " " + units[unit];
    }
}
