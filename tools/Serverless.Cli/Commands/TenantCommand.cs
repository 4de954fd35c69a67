using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Cli.Cluster;
using Serverless.Core.Naming;
using Serverless.Core.Tenancy;
using Spectre.Console;

namespace Serverless.Cli.Commands;

/// <summary>
/// <c>serverless tenant add NAME [--k K] [--rps R] | list | rotate-key NAME | limits NAME [--max-models N] [--max-versions N] [--max-bytes N]</c>: tenants and their API keys.
/// A key is printed once (only its salted hash is stored); locally it is also recorded in <c>local.json</c>,
/// as <c>up</c> does for <c>demo</c>.
/// </summary>
internal static class TenantCommand
{
    public static Command Create()
    {
        var command = new Command("tenant", "Add tenants, list them, rotate their API keys");
        command.Subcommands.Add(Add());
        command.Subcommands.Add(List());
        command.Subcommands.Add(RotateKey());
        command.Subcommands.Add(Limits());
        return command;
    }

    private static Command Add()
    {
        var name = new Argument<string>("name") { Description = "Tenant name (1–63 of a-z 0-9 - _)" };
        var k = new Option<int?>("--k") { Description = $"Shuffle shard size: how many shards the tenant's models may use (default {PlacementDefaults.ShuffleShardSize})" };
        var rps = new Option<int?>("--rps") { Description = "Request quota at the router, per second (default: the router's Router__DefaultTenantRequestsPerSecond)" };
        var command = new Command("add", "Create a tenant and print its API key (shown once)") { name, k, rps };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var tenant = parse.GetValue(name)!;
            var size = parse.GetValue(k);
            var quota = parse.GetValue(rps);
            if (ModelNames.CheckTenant(tenant) is { } nameError)
            {
                Console.Error.WriteLine($"error: {nameError}");
                return 2;
            }

            if (size is < 1 or > 64)
            {
                Console.Error.WriteLine("error: --k must be between 1 and 64");
                return 2;
            }

            if (quota is < 1 or > 10_000_000)
            {
                Console.Error.WriteLine("error: --rps must be between 1 and 10000000");
                return 2;
            }

            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            string key;
            try
            {
                key = await Tenants(context).CreateAsync(tenant, size, quota, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }

            var file = RecordKey(tenant, key);
            Console.WriteLine($"tenant '{tenant}' added: k = {size ?? PlacementDefaults.ShuffleShardSize}, quota = {(quota is { } q ? q.ToString(CultureInfo.InvariantCulture) + " requests/s" : "the router's default")}");
            PrintKey(key, file);
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List the tenants: shuffle shard size, quota, number of keys (never the keys)");
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            var tenants = await Tenants(context).ListSummariesAsync(cancellationToken).ConfigureAwait(false);
            var local = StateDirectory.Default().Read()?.Tenants.Select(t => t.Name).ToHashSet(StringComparer.Ordinal) ?? [];
            var table = new Table().AddColumns("tenant", "k", "requests/s", "keys", "key in local.json");
            foreach (var tenant in tenants)
            {
                table.AddRow(
                    Markup.Escape(tenant.Name),
                    tenant.ShuffleShardSize.ToString(CultureInfo.InvariantCulture),
                    tenant.RequestsPerSecond > 0 ? tenant.RequestsPerSecond.ToString(CultureInfo.InvariantCulture) : "default",
                    tenant.KeyCount.ToString(CultureInfo.InvariantCulture),
                    local.Contains(tenant.Name) ? "yes" : "");
            }

            AnsiConsole.Write(table);
            Console.WriteLine($"{tenants.Count} tenant(s)");
            return 0;
        });
        return command;
    }

    private static Command Limits()
    {
        var name = new Argument<string>("name") { Description = "Tenant name" };
        var models = new Option<int?>("--max-models") { Description = "Models the tenant may have (0: the publisher's Publisher__DefaultMaxModelsPerTenant)" };
        var versions = new Option<int?>("--max-versions") { Description = "Versions one model may have (0: Publisher__DefaultMaxVersionsPerModel)" };
        var bytes = new Option<long?>("--max-bytes") { Description = "Bytes of model files the tenant may store (0: Publisher__DefaultMaxBytesPerTenant)" };
        var command = new Command("limits", "Set a tenant's publish limits; a publish over one is Rejected naming it") { name, models, versions, bytes };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var tenant = parse.GetValue(name)!;
            var (maxModels, maxVersions, maxBytes) = (parse.GetValue(models), parse.GetValue(versions), parse.GetValue(bytes));
            if (ModelNames.CheckTenant(tenant) is { } nameError)
            {
                Console.Error.WriteLine($"error: {nameError}");
                return 2;
            }

            if (maxModels is < 0 || maxVersions is < 0 || maxBytes is < 0)
            {
                Console.Error.WriteLine("error: --max-models, --max-versions and --max-bytes must be 0 (the default) or more");
                return 2;
            }

            if (maxModels is null && maxVersions is null && maxBytes is null)
            {
                Console.Error.WriteLine("error: give at least one of --max-models, --max-versions, --max-bytes");
                return 2;
            }

            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            if (!await Tenants(context).SetPublishLimitsAsync(tenant, maxModels, maxVersions, maxBytes, cancellationToken).ConfigureAwait(false))
            {
                Console.Error.WriteLine($"error: no tenant '{tenant}'");
                return 1;
            }

            Console.WriteLine($"tenant '{tenant}': publish limits set (publishers read them within a minute)");
            return 0;
        });
        return command;
    }

    private static Command RotateKey()
    {
        var name = new Argument<string>("name") { Description = "Tenant name" };
        var command = new Command("rotate-key", "Give a tenant a new API key (shown once) and remove its old ones") { name };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var tenant = parse.GetValue(name)!;
            if (ModelNames.CheckTenant(tenant) is { } nameError)
            {
                Console.Error.WriteLine($"error: {nameError}");
                return 2;
            }

            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            string key;
            try
            {
                key = await Tenants(context).RotateKeyAsync(tenant, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }

            var file = RecordKey(tenant, key);
            Console.WriteLine($"tenant '{tenant}': new key; the old ones are removed (routers and shards stop accepting them within 15 s, their tenant cache)");
            PrintKey(key, file);
            return 0;
        });
        return command;
    }

    private static TenantStore Tenants(CliContext context) => context.Services.GetRequiredService<TenantStore>();

    /// <summary>Records the tenant's key in local.json (replacing an older one), read fresh so nothing else in it is lost.</summary>
    private static string RecordKey(string tenant, string key)
    {
        var directory = StateDirectory.Default();
        var state = directory.Read() ?? new LocalClusterState();
        var index = state.Tenants.FindIndex(t => t.Name == tenant);
        if (index >= 0)
        {
            state.Tenants[index] = new TenantKey(tenant, key);
        }
        else
        {
            state.Tenants.Add(new TenantKey(tenant, key));
        }

        directory.Write(state);
        return directory.StateFile;
    }

    private static void PrintKey(string key, string file)
    {
        Console.WriteLine($"API key: {key}");
        Console.WriteLine($"  shown once: only its salted hash is stored (locally it is also recorded in {file})");
    }
}
