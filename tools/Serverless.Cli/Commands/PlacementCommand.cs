using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Naming;
using Serverless.Core.Placement;
using Serverless.Core.Tenancy;

namespace Serverless.Cli.Commands;

/// <summary><c>serverless placement MODEL [--tenant T]</c>: the model's replicas and why.</summary>
internal static class PlacementCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Model name" };
        var tenant = new Option<string?>("--tenant") { Description = "Tenant (default: the first in local.json)" };
        var command = new Command("placement", "Show a model's replicas (primary first) and why they are there") { model, tenant };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            var tenantName = context.DefaultTenant(parse.GetValue(tenant));
            var modelName = parse.GetValue(model)!;
            if ((ModelNames.CheckTenant(tenantName) ?? ModelNames.CheckModel(modelName)) is { } nameError)
            {
                Console.Error.WriteLine($"error: {nameError}");
                return 2;
            }

            var entry = await context.Registry.ResolveAsync(tenantName, modelName, null, cancellationToken).ConfigureAwait(false);
            if (entry is null)
            {
                Console.Error.WriteLine($"error: model '{modelName}' of tenant '{tenantName}' has no Ready version");
                return 1;
            }

            var k = await context.Services.GetRequiredService<TenantStore>().GetShuffleShardSizeAsync(tenantName, cancellationToken).ConfigureAwait(false);
            var (replicas, reason) = await context.Services.GetRequiredService<ReplicaResolver>().ExplainAsync(tenantName, k, modelName, entry.Pool, cancellationToken).ConfigureAwait(false);
            var row = await context.Placements.GetAsync(tenantName, modelName, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"{tenantName}/{modelName} version {entry.Version} (pool {entry.Pool})");
            Console.WriteLine($"  why:  {reason}");
            Console.WriteLine($"  row:  {(row is null ? "none (placement is computed)" : $"replicas={row.Replicas} shards='{row.Shards}' reason='{row.Reason}' updated {row.Timestamp:u}")}");
            for (var i = 0; i < replicas.Count; i++)
            {
                Console.WriteLine($"  {(i == 0 ? "primary" : "replica")} {replicas[i].Id}  {replicas[i].BaseUrl}");
            }

            return 0;
        });
        return command;
    }
}
