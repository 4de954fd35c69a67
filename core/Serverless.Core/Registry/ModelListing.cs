using Azure.Data.Tables;
using Serverless.Core.Naming;
using Serverless.Core.Storage;

namespace Serverless.Core.Registry;

/// <summary>
/// Pages through the registry (Table <c>models</c>) without reading it whole: a page is one or a few Table reads of at
/// most <see cref="ModelListQuery.Limit"/> (+1) rows, and a model-name prefix is a PartitionKey range
/// (<c>{tenant}~{prefix}</c> up to the next string), so rows of other tenants and other prefixes are never read.
/// Aliases are left out by a RowKey range (every version starts with a digit, every alias with <c>@</c>, above them)
/// and the state by the filter, both on the server.
/// </summary>
public sealed class ModelListing
{
    private readonly StorageClients _storage;

    public ModelListing(StorageClients storage)
    {
        _storage = storage;
    }

    /// <summary>One page of version rows, with the count of those past it (up to the cap) and the next page's cursor.</summary>
    public async Task<ModelListPage> ListAsync(ModelListQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.Limit, ModelListQuery.MaxLimit);
        var filter = Filter(query);
        var rows = new List<ModelVersionEntity>(Math.Min(query.Limit, 256));
        var pageSize = Math.Min(query.Limit + 1, ModelListQuery.MaxLimit);
        var more = false;
        await foreach (var page in _storage.ModelsTable.QueryAsync<ModelVersionEntity>(filter, maxPerPage: pageSize, cancellationToken: cancellationToken)
            .AsPages(pageSizeHint: pageSize).ConfigureAwait(false))
        {
            foreach (var row in page.Values)
            {
                if (rows.Count < query.Limit)
                {
                    rows.Add(row);
                }
                else
                {
                    more = true;
                }
            }

            if (rows.Count == query.Limit)
            {
                // Enough: stop reading. Whether more match is known when this page had a row past the limit, or may be
                // when storage has another page (a page of 1,000 has no room for the extra row; the count tells).
                more |= page.ContinuationToken is not null;
                break;
            }
        }

        if (!more)
        {
            return new ModelListPage(rows, 0, false, null);
        }

        var next = ModelListCursor.After(rows[^1]);
        var (counted, capped) = await CountAsync(query with { After = next }, Math.Max(query.CountCap, 1), cancellationToken).ConfigureAwait(false);
        return counted == 0 ? new ModelListPage(rows, 0, false, null) : new ModelListPage(rows, counted, capped, next);
    }

    /// <summary>
    /// How many rows match <paramref name="query"/> (its <see cref="ModelListQuery.After"/> included), reading keys only,
    /// up to <paramref name="cap"/>: true with it when there are at least that many.
    /// </summary>
    public async Task<(long Count, bool Capped)> CountAsync(ModelListQuery query, int cap, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var count = 0L;
        await foreach (var page in _storage.ModelsTable.QueryAsync<TableEntity>(Filter(query), maxPerPage: ModelListQuery.MaxLimit, select: [nameof(ITableEntity.PartitionKey), nameof(ITableEntity.RowKey)], cancellationToken: cancellationToken)
            .AsPages(pageSizeHint: ModelListQuery.MaxLimit).ConfigureAwait(false))
        {
            count += page.Values.Count;
            if (count >= cap)
            {
                return (cap, true);
            }
        }

        return (count, false);
    }

    /// <summary>The OData filter of a query: key ranges first, so storage reads only the range.</summary>
    public static string Filter(ModelListQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Tenant is { } tenant && ModelNames.CheckTenant(tenant) is { } badTenant)
        {
            throw new ArgumentException(badTenant, nameof(query));
        }

        if (!string.IsNullOrEmpty(query.Prefix) && ModelNames.CheckModel(query.Prefix) is { } badPrefix)
        {
            throw new ArgumentException("prefix: " + badPrefix, nameof(query));
        }

        if (!string.IsNullOrEmpty(query.Prefix) && query.Tenant is null)
        {
            // Across tenants a model prefix is no single key range: it would be a scan of the whole registry.
            throw new ArgumentException("a model-name prefix needs a tenant (it is a key range within the tenant's partitions)", nameof(query));
        }

        if (query.State is not (null or ModelStates.Ready or ModelStates.Rejected or ModelStates.Retired))
        {
            throw new ArgumentException($"state '{query.State}' is none of {ModelStates.Ready}, {ModelStates.Rejected}, {ModelStates.Retired}", nameof(query));
        }

        var parts = new List<string>(5);
        if (query.Tenant is not null)
        {
            var from = ModelNames.ModelKey(query.Tenant, query.Prefix ?? "");
            parts.Add(TableClient.CreateQueryFilter($"PartitionKey ge {from} and PartitionKey lt {Successor(from)}"));
        }

        if (query.After is { } after)
        {
            parts.Add(after.RowKey is null
                ? TableClient.CreateQueryFilter($"PartitionKey gt {after.PartitionKey}")
                : TableClient.CreateQueryFilter($"(PartitionKey gt {after.PartitionKey} or (PartitionKey eq {after.PartitionKey} and RowKey gt {after.RowKey}))"));
        }

        // Versions start with a digit (below '@'); aliases are '@name'.
        parts.Add(TableClient.CreateQueryFilter($"RowKey lt {ModelVersionEntity.AliasPrefix}"));
        if (query.State is not null)
        {
            parts.Add(TableClient.CreateQueryFilter($"State eq {query.State}"));
        }

        return string.Join(" and ", parts);
    }

    /// <summary>
    /// The least string above every string that starts with <paramref name="prefix"/>: its last character plus one
    /// (names are ASCII letters, digits, '-', '_' and the '~' separator, so no character is the last one).
    /// </summary>
    public static string Successor(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        return string.Concat(prefix.AsSpan(0, prefix.Length - 1), [(char)(prefix[^1] + 1)]);
    }
}
