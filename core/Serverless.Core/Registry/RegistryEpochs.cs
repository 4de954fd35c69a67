using Serverless.Core.Storage;

namespace Serverless.Core.Registry;

/// <summary>
/// Change notification for the registry, so the request path need not re-read a model's rows every few seconds to
/// notice changes. Every writer of a tenant's registry rows (publish, alias move, retire, delete) also gives the
/// tenant a new epoch (<see cref="BumpAsync"/>); every router and shard reads all epochs once a second
/// (<see cref="PollAsync"/>, one query of one partition, whatever the number of models). Rows read while the
/// tenant had epoch E stay valid while the last poll, at most <see cref="HealthyFor"/> old, still says E: a change
/// is seen within about a second, as it was within the 2 s freshness before, and a model idle for minutes is not
/// re-read on its next request. When polling fails the freshness window alone applies again.
/// </summary>
/// <remarks>
/// The epoch a read is stamped with is taken before the read starts, so a change that lands between the stamp and
/// the read costs one extra read (the next poll shows a new epoch), never a missed change. A writer that stops
/// between its write and its bump leaves rows valid until <see cref="ModelRegistry"/>'s upper bound on a stamped
/// read's age.
/// </remarks>
public sealed class RegistryEpochs
{
    /// <summary>How often a router or shard reads the epochs.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    /// <summary>How old the last successful poll may be for its epochs to count.</summary>
    public static readonly TimeSpan HealthyFor = TimeSpan.FromSeconds(3);

    private readonly StorageClients _storage;
    private readonly TimeProvider _time;
    private Snapshot? _last;

    public RegistryEpochs(StorageClients storage, TimeProvider time)
    {
        _storage = storage;
        _time = time;
    }

    /// <summary>
    /// The tenant's epoch as of the last poll ("" when it has none yet), or null when there is no recent poll
    /// (then nothing can be stamped, and reads fall back to their freshness window).
    /// </summary>
    public string? Current(string tenant)
    {
        var last = Volatile.Read(ref _last);
        if (last is null || _time.GetElapsedTime(last.StartedAt) > HealthyFor)
        {
            return null;
        }

        return last.Epochs.TryGetValue(tenant, out var epoch) ? epoch : "";
    }

    /// <summary>Reads every tenant's epoch; the result counts from when the read started.</summary>
    public async Task PollAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var epochs = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var row in _storage.RegistryEpochsTable.QueryAsync<RegistryEpochEntity>(
            e => e.PartitionKey == RegistryEpochEntity.PartitionKeyValue, select: ["RowKey", "Epoch"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            epochs[row.RowKey] = row.Epoch;
        }

        Volatile.Write(ref _last, new Snapshot(started, epochs));
    }

    /// <summary>
    /// The epoch of Table <c>tenants</c> itself (which tenants exist): a row key no tenant can have (names start with
    /// a letter or digit), read by the same poll, bumped when a tenant is created, so an unknown tenant name in a key
    /// is answered from the set of tenant names while it holds (<see cref="Tenancy.TenantStore"/>).
    /// </summary>
    public const string TenantsKey = "_tenants";

    /// <summary>Gives the tenant a new epoch, after a change to its registry rows.</summary>
    public Task BumpAsync(string tenant, CancellationToken cancellationToken) => BumpAsync(_storage, tenant, cancellationToken);

    /// <summary>Gives <paramref name="key"/> (a tenant, or <see cref="TenantsKey"/>) a new epoch; for writers without a poller (tools).</summary>
    public static async Task BumpAsync(StorageClients storage, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(storage);
        var row = new RegistryEpochEntity { RowKey = key, Epoch = Guid.NewGuid().ToString("N") };
        await storage.RegistryEpochsTable.UpsertEntityAsync(row, Azure.Data.Tables.TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
    }

    private sealed record Snapshot(long StartedAt, Dictionary<string, string> Epochs);
}
