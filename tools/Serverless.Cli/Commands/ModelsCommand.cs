using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Registry;
using Spectre.Console;

namespace Serverless.Cli.Commands;

/// <summary>
/// <c>serverless models [--tenant T] [--prefix P] [--state S] [--limit N] [--after CURSOR] [--json]</c>: one page of
/// model versions and their states, read page by page from the registry (<see cref="ModelListing"/>), never the whole
/// of it: with 100,000 models a page of 100 is one or two Table reads, plus a keys-only count of the rest up to
/// <see cref="ModelListQuery.DefaultCountCap"/>. The last line says how many more there are and the command of the next page.
/// </summary>
internal static class ModelsCommand
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static Command Create()
    {
        var tenant = new Option<string?>("--tenant") { Description = "Only this tenant's models (default: all)" };
        var prefix = new Option<string?>("--prefix") { Description = "Only models whose name starts with this (of --tenant, default: the first in local.json)" };
        var state = new Option<string?>("--state") { Description = "Only versions in this state: Ready, Rejected or Retired" };
        state.AcceptOnlyFromAmong(ModelStates.Ready, ModelStates.Rejected, ModelStates.Retired);
        var limit = new Option<int>("--limit") { Description = $"Versions per page, 1 to {ModelListQuery.MaxLimit}", DefaultValueFactory = _ => ModelListQuery.DefaultLimit };
        var after = new Option<string?>("--after") { Description = "Start after this: a MODEL of --tenant, or the cursor the previous page printed" };
        var json = new Option<bool>("--json") { Description = "Print the page as JSON: rows, more, moreIsLowerBound, next" };
        var command = new Command("models", "List model versions and their states, a page at a time") { tenant, prefix, state, limit, after, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            // A prefix is a key range within one tenant's models: without --tenant, the local cluster's first tenant, as
            // the other commands take it.
            var named = parse.GetValue(tenant);
            if (named is null && !string.IsNullOrEmpty(parse.GetValue(prefix)))
            {
                named = context.DefaultTenant(null);
            }

            var (query, error) = Query(named, parse.GetValue(prefix), parse.GetValue(state), parse.GetValue(limit), parse.GetValue(after));
            if (query is null)
            {
                Console.Error.WriteLine($"error: {error}");
                return 1;
            }

            var listing = context.Services.GetRequiredService<ModelListing>();
            var text = await RunAsync(listing, query, parse.GetValue(json), cancellationToken).ConfigureAwait(false);
            Console.Out.Write(text);
            return 0;
        });
        return command;
    }

    /// <summary>The query of the options, or null with the reason they do not make one.</summary>
    internal static (ModelListQuery? Query, string? Error) Query(string? tenant, string? prefix, string? state, int limit, string? after)
    {
        if (limit is < 1 or > ModelListQuery.MaxLimit)
        {
            return (null, $"--limit must be 1 to {ModelListQuery.MaxLimit:N0} (a page is one Table read); page on with --after");
        }

        if (!string.IsNullOrEmpty(prefix) && tenant is null)
        {
            return (null, "--prefix needs --tenant: a model-name prefix is a key range within one tenant's models");
        }

        ModelListCursor? cursor = null;
        if (!string.IsNullOrEmpty(after))
        {
            cursor = ModelListCursor.Parse(after, tenant, out var cursorError);
            if (cursor is null)
            {
                return (null, "--after " + cursorError);
            }
        }

        var query = new ModelListQuery { Tenant = tenant, Prefix = string.IsNullOrEmpty(prefix) ? null : prefix, State = state, Limit = limit, After = cursor };
        try
        {
            _ = ModelListing.Filter(query);
        }
        catch (ArgumentException e)
        {
            return (null, e.Message);
        }

        return (query, null);
    }

    /// <summary>Reads one page and renders it: a table and a line on what follows, or JSON.</summary>
    internal static async Task<string> RunAsync(ModelListing listing, ModelListQuery query, bool json, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(listing);
        ArgumentNullException.ThrowIfNull(query);
        var page = await listing.ListAsync(query, cancellationToken).ConfigureAwait(false);
        if (json)
        {
            var body = new
            {
                rows = page.Rows.Select(r => new { tenant = r.Tenant, model = r.Model, version = r.Version, state = r.State, sizeBytes = r.SizeBytes, pool = r.Pool, publishedAt = r.PublishedAt, error = r.Error }),
                more = page.More,
                moreIsLowerBound = page.MoreIsLowerBound,
                next = page.Next?.ToString(),
            };
            return JsonSerializer.Serialize(body, s_json) + Environment.NewLine;
        }

        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(writer) });
        console.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 150);
        var table = new Table().AddColumns("tenant", "model", "version", "state", "bytes", "pool", "published", "error");
        foreach (var row in page.Rows)
        {
            table.AddRow(
                Markup.Escape(row.Tenant), Markup.Escape(row.Model), Markup.Escape(row.Version), row.State,
                row.SizeBytes.ToString("N0", CultureInfo.InvariantCulture), row.Pool,
                row.PublishedAt.ToString("u", CultureInfo.InvariantCulture), Markup.Escape(row.Error));
        }

        console.Write(table);
        writer.WriteLine(Summary(query, page));
        return writer.ToString();
    }

    /// <summary>The last line: how many were shown, how many more match, and the command of the next page.</summary>
    internal static string Summary(ModelListQuery query, ModelListPage page)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(page);
        var shown = page.Rows.Count.ToString("N0", CultureInfo.InvariantCulture) + (page.Rows.Count == 1 ? " version" : " versions");
        if (page.Next is null)
        {
            return shown + ", no more.";
        }

        var more = page.MoreIsLowerBound
            ? $"more than {page.More.ToString("N0", CultureInfo.InvariantCulture)} more (counting stopped there)"
            : $"{page.More.ToString("N0", CultureInfo.InvariantCulture)} more";
        var next = new StringBuilder("tools/serverless models");
        if (query.Tenant is not null)
        {
            next.Append(" --tenant ").Append(query.Tenant);
        }

        if (query.Prefix is not null)
        {
            next.Append(" --prefix ").Append(query.Prefix);
        }

        if (query.State is not null)
        {
            next.Append(" --state ").Append(query.State);
        }

        if (query.Limit != ModelListQuery.DefaultLimit)
        {
            next.Append(" --limit ").Append(query.Limit.ToString(CultureInfo.InvariantCulture));
        }

        next.Append(" --after ").Append(page.Next);
        return $"{shown} shown, output cut: {more}. Next page: {next}";
    }
}
