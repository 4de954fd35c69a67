using System.CommandLine;
using Serverless.Core.Naming;

namespace Serverless.Cli.Commands;

/// <summary>
/// <c>serverless scale MODEL [--replicas N] [--min-resident [true|false]] [--unpin] [--tenant T]</c>: writes the model's
/// placement row: its replica count, and whether its replicas keep it resident (pinned).
/// </summary>
internal static class ScaleCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Model name" };
        var replicas = new Option<int?>("--replicas") { Description = "Number of replicas" };
        var minResident = new Option<bool>("--min-resident")
        {
            Description = "Keep the model loaded on its replicas (never evicted, prewarmed first at start), within each shard's pinned budget (Shard__PinnedBytes); --min-resident false unpins",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var unpin = new Option<bool>("--unpin") { Description = "Unpin the model (as --min-resident false)" };
        var tenant = new Option<string?>("--tenant") { Description = "Tenant (default: the first in local.json)" };
        var command = new Command("scale", "Set how many replicas serve a model, and whether they keep it resident") { model, replicas, minResident, unpin, tenant };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var tenantOption = parse.GetValue(tenant);
            var modelName = parse.GetValue(model)!;
            var count = parse.GetValue(replicas);
            // Given on the command line (an option not given may still have an implicit result).
            var minResidentGiven = parse.GetResult(minResident) is { Implicit: false };
            bool? pin = parse.GetValue(unpin) ? false : minResidentGiven ? parse.GetValue(minResident) : null;
            if (parse.GetValue(unpin) && minResidentGiven)
            {
                Console.Error.WriteLine("error: give --min-resident or --unpin, not both");
                return 2;
            }

            if (count is null && pin is null)
            {
                Console.Error.WriteLine("error: give --replicas N, --min-resident or --unpin");
                return 2;
            }

            if (count is < 1 or > 64)
            {
                Console.Error.WriteLine("error: --replicas must be between 1 and 64");
                return 2;
            }

            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            var tenantName = context.DefaultTenant(tenantOption);
            if ((ModelNames.CheckTenant(tenantName) ?? ModelNames.CheckModel(modelName)) is { } nameError)
            {
                Console.Error.WriteLine($"error: {nameError}");
                return 2;
            }

            if (count is { } n)
            {
                await context.Placements.SetReplicasAsync(tenantName, modelName, n, "scale", cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"{tenantName}/{modelName}: {n} replica(s)");
            }

            if (pin is { } keep)
            {
                await context.Placements.SetMinResidentAsync(tenantName, modelName, keep, cancellationToken).ConfigureAwait(false);
                Console.WriteLine(keep
                    ? $"{tenantName}/{modelName}: pinned resident. Each replica loads it (prewarmed first when an instance starts) and never evicts it, " +
                      "within its pinned budget (Shard__PinnedBytes, default an eighth of Shard__CacheBytes): a shard whose pinned models exceed it serves this one as an ordinary model " +
                      "(it may be evicted) and logs a warning naming it. Takes effect within Shard__PinRefreshSeconds (10 s)."
                    : $"{tenantName}/{modelName}: unpinned; its replicas evict it like any other model (within Shard__PinRefreshSeconds, 10 s)");
            }

            return 0;
        });
        return command;
    }
}
