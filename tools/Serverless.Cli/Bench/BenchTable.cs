using System.Globalization;
using Spectre.Console;

namespace Serverless.Cli.Bench;

/// <summary>The bench report as Spectre tables (results, then targets) and as Markdown for docs/benchmarks.md.</summary>
internal static class BenchTable
{
    public static Table Results(BenchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var table = new Table().Border(TableBorder.Rounded).Title($"serverless bench — {Markup.Escape(report.Machine.ToString())}");
        foreach (var column in new[] { "scenario", "mode", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "notes" })
        {
            table.AddColumn(new TableColumn(column) { Alignment = column is "scenario" or "mode" or "notes" ? Justify.Left : Justify.Right });
        }

        foreach (var r in report.Results)
        {
            table.AddRow(
                Markup.Escape(r.Scenario),
                Markup.Escape(r.Mode),
                r.Requests.ToString("N0", CultureInfo.InvariantCulture),
                r.Errors == 0 ? "0" : $"[red]{r.Errors.ToString("N0", CultureInfo.InvariantCulture)}[/]",
                r.Throughput > 0 ? r.Throughput.ToString("N0", CultureInfo.InvariantCulture) : "-",
                Ms(r.P50Ms), Ms(r.P90Ms), Ms(r.P99Ms), Ms(r.P999Ms), Ms(r.MaxMs),
                Markup.Escape(string.Join("; ", r.Notes.Select(n => $"{n.Key}: {n.Value}"))));
        }

        return table;
    }

    public static Table Targets(BenchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var table = new Table().Border(TableBorder.Rounded).Title("issue 5 targets");
        table.AddColumn("target").AddColumn("measured").AddColumn("limit").AddColumn("met");
        foreach (var t in report.Targets)
        {
            table.AddRow(Markup.Escape(t.Target), Markup.Escape(t.Measured), Markup.Escape(t.Limit), t.Met switch
            {
                true => "[green]yes[/]",
                false => "[red]no[/]",
                null => "-",
            });
        }

        return table;
    }

    /// <summary>The results as a Markdown table.</summary>
    public static string Markdown(BenchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var lines = new List<string>
        {
            "| scenario | mode | requests | errors | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | notes |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        };
        foreach (var r in report.Results)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Scenario} | {r.Mode} | {r.Requests:N0} | {r.Errors:N0} | {(r.Throughput > 0 ? r.Throughput.ToString("N0", CultureInfo.InvariantCulture) : "-")} | {Ms(r.P50Ms)} | {Ms(r.P90Ms)} | {Ms(r.P99Ms)} | {Ms(r.P999Ms)} | {Ms(r.MaxMs)} | {string.Join("; ", r.Notes.Select(n => $"{n.Key}: {n.Value}")).Replace("|", "\\|", StringComparison.Ordinal)} |"));
        }

        lines.Add("");
        lines.Add("| target | measured | limit | met | measured / limit |");
        lines.Add("| --- | --- | --- | --- | ---: |");
        foreach (var t in report.Targets)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {t.Target} | {t.Measured} | {t.Limit} | {(t.Met switch { true => "yes", false => "**no**", null => "-" })} | {(t.Margin is { } m ? m.ToString("0.00", CultureInfo.InvariantCulture) : "-")} |"));
        }

        return string.Join('\n', lines) + "\n";
    }

    private static string Ms(double ms) =>
        ms switch
        {
            0 => "-",
            < 0.01 => ms.ToString("0.0000", CultureInfo.InvariantCulture),
            < 1 => ms.ToString("0.000", CultureInfo.InvariantCulture),
            < 100 => ms.ToString("0.00", CultureInfo.InvariantCulture),
            _ => ms.ToString("0", CultureInfo.InvariantCulture),
        };
}
