using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace Serverless.Cli.Commands;

/// <summary><c>serverless audit [--since 24h] [--limit N]</c>: who ran which lifecycle command or repair, when.</summary>
internal static class AuditCommand
{
    public static Command Create()
    {
        var since = new Option<string>("--since") { Description = "How far back: 30m, 24h, 7d", DefaultValueFactory = _ => "24h" };
        var limit = new Option<int>("--limit") { Description = "At most this many entries, newest first", DefaultValueFactory = _ => 100 };
        var command = new Command("audit", "Show the audit log: alias, retire, delete and fsck repairs, who and when") { since, limit };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!TryParseAge(parse.GetValue(since) ?? "", out var age))
            {
                Console.Error.WriteLine($"error: --since '{parse.GetValue(since)}' is not an age such as 30m, 24h or 7d");
                return 2;
            }

            if (parse.GetValue(limit) is < 1 or > 100_000)
            {
                Console.Error.WriteLine("error: --limit must be between 1 and 100000");
                return 2;
            }

            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            var entries = await context.Audit.ReadAsync(DateTimeOffset.UtcNow - age, parse.GetValue(limit), cancellationToken).ConfigureAwait(false);
            var table = new Table().AddColumns("when (UTC)", "who", "action", "subject", "detail");
            foreach (var entry in entries)
            {
                table.AddRow(entry.At.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), Markup.Escape(entry.Who), Markup.Escape(entry.Action), Markup.Escape(entry.Subject), Markup.Escape(entry.Detail));
            }

            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    /// <summary>Parses <c>30m</c>, <c>24h</c>, <c>7d</c>.</summary>
    internal static bool TryParseAge(string text, out TimeSpan age)
    {
        age = default;
        if (text.Length < 2 || !int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            return false;
        }

        age = text[^1] switch
        {
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            'd' => TimeSpan.FromDays(n),
            _ => default,
        };
        return age > TimeSpan.Zero;
    }
}
