using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Serverless.Cli.Bench;
using Serverless.Cli.Cluster;
using Spectre.Console;

namespace Serverless.Cli.Commands;

/// <summary>
/// <c>serverless bench</c>: drives the local cluster over loopback (the running one, else one of its own)
/// and measures, beside the floors it is compared with, p50/p90/p99/p99.9, throughput and errors per
/// scenario; prints a table, writes JSON and a latency-percentile SVG plot, and checks issue 5's targets.
/// </summary>
internal static class BenchCommand
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true };

    public static Command Create()
    {
        var defaults = new BenchOptions();
        var scenario = new Option<string>("--scenario") { Description = "all (every one but fleet), or a comma-separated list of: " + string.Join(", ", BenchOptions.AllScenarios), DefaultValueFactory = _ => "all" };
        var duration = new Option<double>("--duration") { Description = "Measured seconds of each load phase", DefaultValueFactory = _ => defaults.DurationSeconds };
        var warmup = new Option<double>("--warmup") { Description = "Unmeasured seconds of load before each load phase (JIT tiering, connection pools, replica scaling settle)", DefaultValueFactory = _ => defaults.WarmupSeconds };
        var rate = new Option<double?>("--rate") { Description = "Open-loop arrival rate (req/s) for shard and router (default: half the closed-loop maximum)" };
        var connections = new Option<int>("--connections") { Description = "Concurrent connections of the closed loop (and the open loop's pool)", DefaultValueFactory = _ => defaults.Connections };
        var models = new Option<int>("--models") { Description = "Tiny models of the zipf, density and fleet scenarios", DefaultValueFactory = _ => defaults.Models };
        var coldModels = new Option<int>("--cold-models") { Description = "Fresh ~1 MiB models the cold scenario loads", DefaultValueFactory = _ => defaults.ColdModels };
        var junkRequests = new Option<long>("--junk-requests") { Description = "Distinct made-up model names the hostile scenario sends closed-loop (the router's memory over them is measured)", DefaultValueFactory = _ => defaults.JunkRequests };
        var shards = new Option<int>("--shards") { Description = "Shards of a cluster the bench starts itself", DefaultValueFactory = _ => defaults.Shards };
        var cacheMb = new Option<double>("--shard-cache-mb") { Description = "Each shard's cache budget (MiB) when the bench starts the cluster itself", DefaultValueFactory = _ => defaults.ShardCacheBytes / (1024.0 * 1024) };
        var json = new Option<FileInfo?>("--json") { Description = "Write the report as JSON to this file (default: bench.json in the state folder)" };
        var plot = new Option<FileInfo?>("--plot") { Description = "SVG latency-percentile plot (default: docs/bench-latency.svg in the repository, else ./bench-latency.svg)" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Also write the tables as Markdown to this file" };
        var command = new Command("bench", "Benchmark the platform over loopback against its floors: latency percentiles, throughput, errors, cold loads, zipf hit rate, density")
        {
            scenario, duration, warmup, rate, connections, models, coldModels, junkRequests, shards, cacheMb, json, plot, markdown,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var scenarioText = parse.GetValue(scenario) ?? "all";
            var options = new BenchOptions
            {
                Scenarios = scenarioText == "all" ? BenchOptions.DefaultScenarios : scenarioText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                DurationSeconds = parse.GetValue(duration),
                WarmupSeconds = parse.GetValue(warmup),
                Rate = parse.GetValue(rate),
                Connections = parse.GetValue(connections),
                Models = parse.GetValue(models),
                ColdModels = parse.GetValue(coldModels),
                JunkRequests = parse.GetValue(junkRequests),
                Shards = parse.GetValue(shards),
                ShardCacheBytes = (long)(parse.GetValue(cacheMb) * 1024 * 1024),
                CommandLine = "tools/serverless " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            };
            if (options.Validate() is { } error)
            {
                Console.Error.WriteLine($"error: {error}");
                return 2;
            }

            if (Console.IsOutputRedirected)
            {
                AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 220);
            }

            var report = await new BenchRunner(options, line => AnsiConsole.MarkupLine("[grey]" + Markup.Escape(line) + "[/]")).RunAsync(cancellationToken).ConfigureAwait(false);
            AnsiConsole.Write(BenchTable.Results(report));
            AnsiConsole.Write(BenchTable.Targets(report));

            var plotPath = parse.GetValue(plot)?.FullName ?? DefaultPlotPath();
            Directory.CreateDirectory(Path.GetDirectoryName(plotPath)!);
            var subtitle = string.Create(CultureInfo.InvariantCulture,
                $"{report.Machine} | {options.Connections} connections; {options.DurationSeconds:0.#} s per phase; dashed = open loop (latency from the intended send time)");
            await File.WriteAllTextAsync(plotPath, LatencyPlot.Render(report.Results, "Latency by percentile, per scenario (loopback)", subtitle), cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"plot: {plotPath}");

            var jsonPath = parse.GetValue(json)?.FullName ?? Path.Combine(StateDirectory.Default().Path, "bench.json");
            Directory.CreateDirectory(Path.GetDirectoryName(jsonPath)!);
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(report, s_json), cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"json: {jsonPath}");

            if (parse.GetValue(markdown) is { } markdownFile)
            {
                await File.WriteAllTextAsync(markdownFile.FullName, BenchTable.Markdown(report), cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"markdown: {markdownFile.FullName}");
            }

            return report.Results.Any(r => r.Errors > 0 && !r.ErrorsExpected) ? 1 : 0;
        });
        return command;
    }

    /// <summary>docs/bench-latency.svg under the repository holding the current directory, else ./bench-latency.svg.</summary>
    private static string DefaultPlotPath()
    {
        for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "tools", "serverless")) && Directory.Exists(Path.Combine(directory.FullName, "docs")))
            {
                return Path.Combine(directory.FullName, "docs", "bench-latency.svg");
            }
        }

        return Path.Combine(Environment.CurrentDirectory, "bench-latency.svg");
    }
}
