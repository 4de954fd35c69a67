using System.CommandLine;
using System.Text.Json;
using Serverless.Cli.Bench;
using Serverless.Cli.Cluster;

namespace Serverless.Cli.Commands;

/// <summary>
/// <c>serverless bench-attack</c> (hidden): the attacker of <c>bench --scenario hostile</c>, in a process of its own.
/// Attacks the router until its standard input closes (or <c>--max-seconds</c> pass, so it always stops by itself),
/// then writes what it sent and got back to <c>--report</c> as JSON.
/// </summary>
internal static class BenchAttackCommand
{
    public static Command Create()
    {
        var router = new Option<string>("--router") { Required = true, Description = "The router's base address (loopback)" };
        var tenant = new Option<string>("--tenant") { Required = true, Description = "The attacking tenant" };
        var key = new Option<string>("--key") { Required = true, Description = "The attacking tenant's valid key" };
        var runId = new Option<string>("--run-id") { Required = true, Description = "Makes this run's made-up names distinct from earlier runs'" };
        var report = new Option<FileInfo>("--report") { Required = true, Description = "Where to write the JSON report" };
        var maxSeconds = new Option<double>("--max-seconds") { Description = "Stop after this many seconds even if standard input stays open", DefaultValueFactory = _ => 600 };
        var command = new Command("bench-attack", "The hostile bench's attacker (started by `bench --scenario hostile`)")
        {
            router, tenant, key, runId, report, maxSeconds,
        };
        command.Hidden = true;
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!Uri.TryCreate(parse.GetValue(router), UriKind.Absolute, out var target) || !target.IsLoopback)
            {
                Console.Error.WriteLine($"error: --router {parse.GetValue(router)} is not an absolute loopback address; the attacker only attacks this machine");
                return 2;
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            stop.CancelAfter(TimeSpan.FromSeconds(parse.GetValue(maxSeconds)));
            var attack = new HostileAttack(target, parse.GetValue(tenant)!, parse.GetValue(key)!, parse.GetValue(runId)!);
            var run = attack.RunAsync(stop.Token);
            Console.WriteLine(AttackerProcess.BenchAttackReady);
            // Standard input closing (the bench is done with this round, or the bench died) ends the attack.
            _ = Task.Run(async () =>
            {
                try
                {
                    while (await Console.In.ReadLineAsync(stop.Token).ConfigureAwait(false) is not null)
                    {
                    }
                }
                catch (OperationCanceledException)
                {
                    // --max-seconds ran out first.
                }

                await stop.CancelAsync().ConfigureAwait(false);
            }, CancellationToken.None);
            var result = await run.ConfigureAwait(false);
            await using var file = File.Create(parse.GetValue(report)!.FullName);
            await JsonSerializer.SerializeAsync(file, result, CliJsonContext.Default.AttackReport, cancellationToken).ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
