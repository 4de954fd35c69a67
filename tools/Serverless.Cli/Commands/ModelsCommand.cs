using System.CommandLine;
using Spectre.Console;

namespace Serverless.Cli.Commands;

/// <summary><c>serverless models [--tenant T]</c>: models, versions and states.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var tenant = new Option<string?>("--tenant") { Description = "Only this tenant's models (default: all)" };
        var command = new Command("models", "List models, versions and their states") { tenant };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            var rows = await context.Registry.ListAsync(parse.GetValue(tenant), cancellationToken).ConfigureAwait(false);
            var table = new Table().AddColumns("tenant", "model", "version", "state", "bytes", "pool", "published", "error");
            foreach (var row in rows)
            {
                table.AddRow(
                    Markup.Escape(row.Tenant), Markup.Escape(row.Model), Markup.Escape(row.Version), row.State,
                    row.SizeBytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), row.Pool,
                    row.PublishedAt.ToString("u", System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(row.Error));
            }

            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
