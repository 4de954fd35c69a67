using System.CommandLine;
using System.Text.Json;
using Serverless.Publishing;
using Spectre.Console;

namespace Serverless.Cli.Commands;

/// <summary>
/// <c>serverless fsck [--repair] [--json]</c>: what the registry and the stored bytes disagree on
/// (<see cref="RegistryCheck"/>). Exits 0 when nothing is left wrong, 1 when something is (after repairs).
/// </summary>
internal static class FsckCommand
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    public static Command Create()
    {
        var repair = new Option<bool>("--repair") { Description = "Fix what can be fixed without guessing (each fix goes to the audit log)" };
        var json = new Option<bool>("--json") { Description = "Print the findings as a JSON array" };
        var command = new Command("fsck", "Check the registry against the stored model bytes: rows without blobs, blobs without rows, dangling aliases") { repair, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            var findings = await context.Check.RunAsync(parse.GetValue(repair), cancellationToken).ConfigureAwait(false);
            foreach (var finding in findings)
            {
                if (finding.Repaired)
                {
                    await context.Audit.WriteAsync(AuditLog.CurrentActor, "fsck-repair", finding.Subject, $"{finding.Kind}: {finding.Detail}; {finding.Repair}", cancellationToken).ConfigureAwait(false);
                }
            }

            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(findings, s_json));
            }
            else if (findings.Count == 0)
            {
                Console.WriteLine("fsck: the registry and the stored bytes agree.");
            }
            else
            {
                var table = new Table().AddColumns("finding", "subject", "seen", "repair");
                foreach (var finding in findings)
                {
                    table.AddRow(Markup.Escape(finding.Kind.ToString()), Markup.Escape(finding.Subject), Markup.Escape(finding.Detail), Markup.Escape(finding.Repair ?? "(run with --repair)"));
                }

                AnsiConsole.Write(table);
            }

            return findings.Any(f => !f.Repaired) ? 1 : 0;
        });
        return command;
    }
}
