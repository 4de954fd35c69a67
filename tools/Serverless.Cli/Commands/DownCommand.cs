using System.CommandLine;
using Serverless.Cli.Cluster;

namespace Serverless.Cli.Commands;

/// <summary><c>serverless down</c>: stops every process <c>up</c> started.</summary>
internal static class DownCommand
{
    public static Command Create()
    {
        var command = new Command("down", "Stop everything `serverless up` started");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var directory = StateDirectory.Default();
            var state = directory.Read();
            if (state is null)
            {
                Console.WriteLine("Nothing to stop: no local cluster is recorded.");
                return 0;
            }

            await new LocalCluster(directory, Console.WriteLine).StopAsync(state).ConfigureAwait(false);
            Console.WriteLine("Stopped.");
            return 0;
        });
        return command;
    }
}
