using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Serverless.Cli.Simulation;
using Spectre.Console;

namespace Serverless.Cli.Commands;

/// <summary>
/// <c>serverless simulate</c>: places a synthetic fleet with the platform's own placement and scaling code
/// (no cluster) and reports load per shard, movement on adding or removing a shard, a bad tenant's blast
/// radius, session-cache hit rates and what per-model scaling does to the hottest shard; plots the load.
/// </summary>
internal static class SimulateCommand
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true };

    public static Command Create()
    {
        var defaults = new SimulationOptions();
        var models = new Option<int>("--models") { Description = "Models in the fleet", DefaultValueFactory = _ => defaults.Models };
        var tenants = new Option<int>("--tenants") { Description = "Tenants; model i belongs to tenant i mod tenants", DefaultValueFactory = _ => defaults.Tenants };
        var shards = new Option<int>("--shards") { Description = "Shards N", DefaultValueFactory = _ => defaults.Shards };
        var k = new Option<int>("--k") { Description = "Shuffle shard size k of every tenant", DefaultValueFactory = _ => defaults.K };
        var replicas = new Option<int>("--replicas") { Description = "Replicas R per model before per-model scaling", DefaultValueFactory = _ => defaults.Replicas };
        var zipf = new Option<double>("--zipf") { Description = "Zipf exponent s of request popularity over models", DefaultValueFactory = _ => defaults.Zipf };
        var rps = new Option<double>("--rps") { Description = "Total requests per second", DefaultValueFactory = _ => defaults.Rps };
        var cacheModels = new Option<int>("--cache-models") { Description = "Models each shard's LRU session cache holds", DefaultValueFactory = _ => defaults.CacheModels };
        var cacheRequests = new Option<int>("--cache-requests") { Description = "Sampled requests replayed through the caches", DefaultValueFactory = _ => defaults.CacheRequests };
        var perReplica = new Option<double>("--requests-per-replica") { Description = "Per-model scaling: requests per second one replica carries", DefaultValueFactory = _ => defaults.RequestsPerReplica };
        var maxReplicas = new Option<int>("--max-replicas") { Description = "Per-model scaling: the most replicas a model gets", DefaultValueFactory = _ => defaults.MaxReplicas };
        var blastSample = new Option<int>("--blast-sample") { Description = "Tenants measured as the bad tenant", DefaultValueFactory = _ => defaults.BlastSample };
        var seed = new Option<int>("--seed") { Description = "Random seed (popularity order, sampled requests)", DefaultValueFactory = _ => defaults.Seed };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the report as JSON to this file" };
        var plot = new Option<FileInfo?>("--plot") { Description = "SVG plot of load per shard (default: docs/scale-load.svg in the repository, else ./scale-load.svg)" };
        var command = new Command("simulate", "Simulate placement of a synthetic fleet with the real placement code; no cluster needed")
        {
            models, tenants, shards, k, replicas, zipf, rps, cacheModels, cacheRequests, perReplica, maxReplicas, blastSample, seed, json, plot,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new SimulationOptions
            {
                Models = parse.GetValue(models),
                Tenants = parse.GetValue(tenants),
                Shards = parse.GetValue(shards),
                K = parse.GetValue(k),
                Replicas = parse.GetValue(replicas),
                Zipf = parse.GetValue(zipf),
                Rps = parse.GetValue(rps),
                CacheModels = parse.GetValue(cacheModels),
                CacheRequests = parse.GetValue(cacheRequests),
                RequestsPerReplica = parse.GetValue(perReplica),
                MaxReplicas = parse.GetValue(maxReplicas),
                BlastSample = parse.GetValue(blastSample),
                Seed = parse.GetValue(seed),
            };
            if (options.Validate() is { } error)
            {
                Console.Error.WriteLine($"error: {error}");
                return 2;
            }

            var report = new FleetSimulator(options).Run();
            if (Console.IsOutputRedirected)
            {
                AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 160);
            }

            AnsiConsole.Write(ReportTable.Build(report));

            var plotPath = parse.GetValue(plot)?.FullName ?? DefaultPlotPath();
            Directory.CreateDirectory(Path.GetDirectoryName(plotPath)!);
            var subtitle = string.Create(CultureInfo.InvariantCulture,
                $"{options.Models:N0} models, {options.Tenants:N0} tenants, {options.Shards} shards, k={options.K}, R={options.Replicas}, zipf {options.Zipf}, {options.Rps:N0} rps; scaling at {options.RequestsPerReplica:N0} rps/replica, max {options.MaxReplicas}");
            await File.WriteAllTextAsync(plotPath, SvgPlot.Render(report.ShardIds, report.ShardLoadBefore, report.ShardLoadAfter, "Load per shard before and after per-model scaling", subtitle), cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"plot: {plotPath}");

            if (parse.GetValue(json) is { } jsonFile)
            {
                await File.WriteAllTextAsync(jsonFile.FullName, JsonSerializer.Serialize(report, s_json), cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"json: {jsonFile.FullName}");
            }

            return 0;
        });
        return command;
    }

    /// <summary>docs/scale-load.svg under the repository holding the current directory, else ./scale-load.svg.</summary>
    private static string DefaultPlotPath()
    {
        for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "tools", "serverless")) && Directory.Exists(Path.Combine(directory.FullName, "docs")))
            {
                return Path.Combine(directory.FullName, "docs", "scale-load.svg");
            }
        }

        return Path.Combine(Environment.CurrentDirectory, "scale-load.svg");
    }
}
