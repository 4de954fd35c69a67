using System.CommandLine;
using Serverless.Cli.Commands;
using Spectre.Console;

// Piped into a file or another program, tables get room instead of an 80-column default that wraps every name.
if (Console.IsOutputRedirected)
{
    AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 240);
}

var root = new RootCommand("serverless: run, publish to and inspect the multi-model scoring platform")
{
    UpCommand.Create(),
    DownCommand.Create(),
    PublishCommand.Create(),
    ModelsCommand.Create(),
    ScaleCommand.Create(),
    PlacementCommand.Create(),
    SimulateCommand.Create(),
    TenantCommand.Create(),
    BenchCommand.Create(),
    BenchAttackCommand.Create(),
    TopCommand.Create(),
    LifecycleCommands.Alias(),
    LifecycleCommands.Retire(),
    LifecycleCommands.Delete(),
    FsckCommand.Create(),
    AuditCommand.Create(),
};
// Ctrl+C cancels the command's token and then waits this long before the process is ended: `up` and `bench` stop
// the processes they started on the way out (each app drains for up to 15 s), and the default 2 s left them running.
var invocation = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(45) };
return await root.Parse(args).InvokeAsync(invocation).ConfigureAwait(false);
