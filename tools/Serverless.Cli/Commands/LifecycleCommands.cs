using System.CommandLine;
using Serverless.Publishing;

namespace Serverless.Cli.Commands;

/// <summary><c>serverless alias|retire|delete</c>: the model lifecycle after publishing.</summary>
internal static class LifecycleCommands
{
    public static Command Alias()
    {
        var model = new Argument<string>("model") { Description = "Model name" };
        var name = new Argument<string>("name") { Description = "Alias name, e.g. production" };
        var version = new Argument<string>("version") { Description = "Version the alias points at" };
        var tenant = new Option<string?>("--tenant") { Description = "Tenant (default: the first in local.json)" };
        var noWarm = new Option<bool>("--no-warm") { Description = "Move without loading the version on its replicas first" };
        var command = new Command("alias", "Point an alias (production, staging, …) at a version; warms it on its replicas first") { model, name, version, tenant, noWarm };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(tenant), async (context, t) =>
        {
            var move = await context.Lifecycle.MoveAliasAsync(t, parse.GetValue(model)!, parse.GetValue(name)!, parse.GetValue(version)!, !parse.GetValue(noWarm), cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"{t}/{parse.GetValue(model)}: alias '{move.Alias}' {move.PreviousVersion ?? "(new)"} -> {move.Version}");
            await context.Audit.WriteAsync(AuditLog.CurrentActor, "alias", $"{t}/{parse.GetValue(model)}@{move.Alias}", $"{move.PreviousVersion ?? "(new)"} -> {move.Version}", cancellationToken).ConfigureAwait(false);
            foreach (var line in move.Warmed)
            {
                Console.WriteLine($"  warm-up {line}");
            }
        }));
        return command;
    }

    public static Command Retire()
    {
        var model = new Argument<string>("model") { Description = "Model name" };
        var version = new Argument<string>("version") { Description = "Version to retire" };
        var tenant = new Option<string?>("--tenant") { Description = "Tenant (default: the first in local.json)" };
        var command = new Command("retire", "Stop serving a version (404 saying it was retired); its bytes stay until deleted") { model, version, tenant };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(tenant), async (context, t) =>
        {
            await context.Lifecycle.RetireAsync(t, parse.GetValue(model)!, parse.GetValue(version)!, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"{t}/{parse.GetValue(model)}: version {parse.GetValue(version)} retired");
            await context.Audit.WriteAsync(AuditLog.CurrentActor, "retire", $"{t}/{parse.GetValue(model)}/{parse.GetValue(version)}", "retired", cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }

    public static Command Delete()
    {
        var model = new Argument<string>("model") { Description = "Model name" };
        var version = new Argument<string>("version") { Description = "Version to delete" };
        var tenant = new Option<string?>("--tenant") { Description = "Tenant (default: the first in local.json)" };
        var command = new Command("delete", "Delete a version: its registry row, served bytes and dropped files") { model, version, tenant };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(tenant), async (context, t) =>
        {
            await context.Lifecycle.DeleteAsync(t, parse.GetValue(model)!, parse.GetValue(version)!, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"{t}/{parse.GetValue(model)}: version {parse.GetValue(version)} deleted");
            await context.Audit.WriteAsync(AuditLog.CurrentActor, "delete", $"{t}/{parse.GetValue(model)}/{parse.GetValue(version)}", "row, served bytes and dropped files deleted", cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }

    /// <summary>Opens the cluster, runs the action, and turns the lifecycle's refusals into clear errors.</summary>
    private static async Task<int> RunAsync(string? tenant, Func<CliContext, string, Task> action)
    {
        using var context = CliContext.Open();
        if (context is null)
        {
            return 1;
        }

        try
        {
            await action(context, context.DefaultTenant(tenant)).ConfigureAwait(false);
            return 0;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
