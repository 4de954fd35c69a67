using System.CommandLine;
using Serverless.Cli.Commands;

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
    TopCommand.Create(),
    LifecycleCommands.Alias(),
    LifecycleCommands.Retire(),
    LifecycleCommands.Delete(),
};
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
