using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Azure.Data.Tables;
using Serverless.Core.Storage;

namespace Serverless.Core.Registry;

/// <summary>
/// Per tenant, the model names that registry changes touched lately (Table <c>registrynames</c>, a row per epoch bump
/// that carried any, keyed by time): a router or shard whose set of the tenant's names (<see cref="ModelNameIndex"/>)
/// is behind the tenant's epoch adds these names to it, instead of reading every row of the tenant again. At 100,000
/// models a full read is a hundred pages, and Azurite answers each page by testing every row of the table (the
/// reload after each epoch bump of a bulk publish kept the emulator's one thread busy; issue 17); the feed of the
/// last minutes is a few rows.
/// </summary>
/// <remarks>
/// Every change names its model, not only a publish that adds one: the set is a superset ("may exist"), so a name
/// that stays after its model was deleted costs a registry read that answers 404, never a wrong answer. A row is
/// written before the epoch it belongs to (<see cref="RegistryEpochs.BumpAsync(string, string?, CancellationToken)"/>),
/// so a reader that sees the new epoch finds its names. Rows are keyed by the writer's clock and read from
/// <see cref="ClockMargin"/> before the reader's last read, so clocks a little apart lose nothing (a name read twice
/// is added once). Rows older than <see cref="Retention"/> are trimmed by the writers; a set older than that is read
/// in full again.
/// </remarks>
public sealed class RegistryNameFeed
{
    /// <summary>How long rows are kept: a set last brought up to date longer ago than this is read in full again.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(5);

    /// <summary>How far before the reader's own clock the next read starts (the writers' clocks may be behind it).</summary>
    public static readonly TimeSpan ClockMargin = TimeSpan.FromSeconds(30);

    /// <summary>How often a writer trims a tenant's old rows.</summary>
    private static readonly TimeSpan TrimEvery = TimeSpan.FromMinutes(1);

    /// <summary>Characters of names per row: a Table string property holds 32K characters.</summary>
    private const int MaxRowChars = 30_000;

    private readonly StorageClients _storage;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, long> _trimmedAt = new(StringComparer.Ordinal);

    public RegistryNameFeed(StorageClients storage, TimeProvider time)
    {
        _storage = storage;
        _time = time;
    }

    /// <summary>The row key of a time: rows at or after it sort at or after this key.</summary>
    public static string KeyAt(long utcTicks) => utcTicks.ToString("D19", CultureInfo.InvariantCulture);

    /// <summary>Writes the names (one row, or a few for very many) for the tenant; trims its old rows now and then.</summary>
    public async Task AppendAsync(string tenant, IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(names);
        var row = new StringBuilder();
        foreach (var name in names)
        {
            if (row.Length > 0 && row.Length + name.Length + 1 > MaxRowChars)
            {
                await AddRowAsync(tenant, row.ToString(), cancellationToken).ConfigureAwait(false);
                row.Clear();
            }

            if (row.Length > 0)
            {
                row.Append('\n');
            }

            row.Append(name);
        }

        if (row.Length > 0)
        {
            await AddRowAsync(tenant, row.ToString(), cancellationToken).ConfigureAwait(false);
        }

        var now = _time.GetUtcNow().UtcTicks;
        var last = _trimmedAt.GetOrAdd(tenant, now);
        if (now - last >= TrimEvery.Ticks && _trimmedAt.TryUpdate(tenant, now, last))
        {
            // Off the bump's path: trimming is housekeeping, and a failure leaves rows for the next trim.
            _ = TrimQuietlyAsync(tenant);
        }
    }

    /// <summary>The names of the tenant's rows written at or after <paramref name="sinceUtcTicks"/> (by the writers' clocks).</summary>
    public async Task<List<string>> ReadSinceAsync(string tenant, long sinceUtcTicks, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and RowKey ge {KeyAt(sinceUtcTicks)}");
        await foreach (var row in _storage.RegistryNamesTable.QueryAsync<RegistryNameEntity>(filter, select: [nameof(RegistryNameEntity.Names)], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            foreach (var name in row.Names.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                names.Add(name);
            }
        }

        return names;
    }

    /// <summary>Deletes the tenant's rows older than <see cref="Retention"/>, a hundred per transaction.</summary>
    public async Task TrimAsync(string tenant, CancellationToken cancellationToken)
    {
        var cutoff = KeyAt((_time.GetUtcNow() - Retention).UtcTicks);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and RowKey lt {cutoff}");
        var batch = new List<TableTransactionAction>(100);
        await foreach (var row in _storage.RegistryNamesTable.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            batch.Add(new TableTransactionAction(TableTransactionActionType.Delete, row));
            if (batch.Count == 100)
            {
                await _storage.RegistryNamesTable.SubmitTransactionAsync(batch, cancellationToken).ConfigureAwait(false);
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            await _storage.RegistryNamesTable.SubmitTransactionAsync(batch, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task AddRowAsync(string tenant, string names, CancellationToken cancellationToken)
    {
        var entity = new RegistryNameEntity
        {
            PartitionKey = tenant,
            RowKey = KeyAt(_time.GetUtcNow().UtcTicks) + "-" + Guid.NewGuid().ToString("N")[..8],
            Names = names,
        };
        await _storage.RegistryNamesTable.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
    }

    private async Task TrimQuietlyAsync(string tenant)
    {
        try
        {
            await TrimAsync(tenant, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Azure.RequestFailedException || StorageFaults.IsTransient(e, CancellationToken.None))
        {
            // Left for the next trim.
        }
    }
}
