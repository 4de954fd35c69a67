using System.CommandLine;
using Serverless.Core.Naming;

namespace Serverless.Cli.Commands;

/// <summary><c>serverless scale MODEL --replicas N [--tenant T]</c>: writes the model's placement row.</summary>
internal static class ScaleCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Model name" };
        var replicas = new Option<int>("--replicas") { Description = "Number of replicas", Required = true };
        var tenant = new Option<string?>("--tenant") { Description = "Tenant (default: the first in local.json)" };
        var command = new Command("scale", "Set how many replicas serve a model") { model, replicas, tenant };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            var tenantName = context.DefaultTenant(parse.GetValue(tenant));
            var modelName = parse.GetValue(model)!;
            var count = parse.GetValue(replicas);
            if ((ModelNames.CheckTenant(tenantName) ?? ModelNames.CheckModel(modelName)) is { } nameError)
            {
                Console.Error.WriteLine($"error: {nameError}");
                return 2;
            }

            if (count is < 1 or > 64)
            {
                Console.Error.WriteLine("error: --replicas must be between 1 and 64");
                return 2;
            }

            await context.Placements.SetReplicasAsync(tenantName, modelName, count, "scale", cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"{tenantName}/{modelName}: {count} replica(s)");
            return 0;
        });
        return command;
    }
}
