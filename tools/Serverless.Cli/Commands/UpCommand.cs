using System.CommandLine;
using System.Runtime.InteropServices;
using Serverless.Cli.Cluster;

namespace Serverless.Cli.Commands;

/// <summary><c>serverless up [--shards N] [--port P] [--detach]</c>: starts the local cluster.</summary>
internal static class UpCommand
{
    public static Command Create()
    {
        var shards = new Option<int>("--shards") { Description = "Number of shard processes", DefaultValueFactory = _ => 3 };
        var port = new Option<int>("--port") { Description = "The router's loopback port", DefaultValueFactory = _ => 7070 };
        var detach = new Option<bool>("--detach") { Description = "Return once everything is ready, leaving it running (stop with `serverless down`)" };
        var command = new Command("up", "Start the whole platform on this machine: Azurite, router, shards, publisher") { shards, port, detach };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var shardCount = parse.GetValue(shards);
            if (shardCount is < 1 or > 64)
            {
                Console.Error.WriteLine("error: --shards must be between 1 and 64");
                return 2;
            }

            var directory = StateDirectory.Default();
            var cluster = new LocalCluster(directory, Console.WriteLine);
            if (directory.Read() is { } running && LocalCluster.IsRunning(running))
            {
                Console.Error.WriteLine($"error: a local cluster is already running (router {running.RouterUrl}); run `tools/serverless down` first");
                return 1;
            }

            LocalClusterState state;
            try
            {
                state = await cluster.StartAsync(new LocalClusterOptions { Shards = shardCount, RouterPort = parse.GetValue(port) }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }

            PrintReady(state, directory);
            if (parse.GetValue(detach))
            {
                return 0;
            }

            Console.WriteLine("Running. Press Ctrl+C to stop.");
            var stopped = new TaskCompletionSource();
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stopped.TrySetResult(); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stopped.TrySetResult(); });
            await stopped.Task.ConfigureAwait(false);
            Console.WriteLine("Stopping…");
            await cluster.StopAsync(state).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static void PrintReady(LocalClusterState state, StateDirectory directory)
    {
        var key = state.Tenants.Count > 0 ? state.Tenants[0].ApiKey : "<key>";
        Console.WriteLine();
        Console.WriteLine($"Router:   {state.RouterUrl}");
        Console.WriteLine($"Tenant:   {LocalCluster.DemoTenant}");
        Console.WriteLine($"API key:  {key}");
        Console.WriteLine($"Shards:   {string.Join(", ", state.Shards.Select(s => $"{s.Id} {s.Url}"))}");
        if (state.Gpu is not null)
        {
            Console.WriteLine($"GPU app:  {state.Gpu.Id} {state.Gpu.Url} (pool gpu; `publish --gpu` places a model there)");
        }

        Console.WriteLine($"State:    {directory.StateFile}   Logs: {directory.LogsPath}");
        Console.WriteLine();
        Console.WriteLine("Score the demo model:");
        Console.WriteLine($"  curl -s -H 'Authorization: Bearer {key}' -H 'content-type: application/json' \\");
        Console.WriteLine($"    -d '{{\"inputs\":[{{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}}]}}' \\");
        Console.WriteLine($"    {state.RouterUrl}/v2/models/{LocalCluster.DemoModel}/infer");
        Console.WriteLine();
    }
}
