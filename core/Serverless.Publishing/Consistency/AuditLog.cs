using System.Globalization;
using Serverless.Core.Storage;

namespace Serverless.Publishing;

/// <summary>
/// The audit log of lifecycle commands and repairs (issue 16): every <c>alias</c>, <c>retire</c>, <c>delete</c> and
/// <c>fsck --repair</c> fix writes who, what and when to Table <c>audit</c>; <c>serverless audit</c> reads it back.
/// </summary>
public sealed class AuditLog
{
    private readonly StorageClients _storage;
    private readonly TimeProvider _time;

    public AuditLog(StorageClients storage, TimeProvider time)
    {
        _storage = storage;
        _time = time;
    }

    /// <summary>Who the current process acts for: the OS user and the machine.</summary>
    public static string CurrentActor => $"{Environment.UserName}@{Environment.MachineName}";

    public async Task WriteAsync(string who, string action, string subject, string detail, CancellationToken cancellationToken)
    {
        var at = _time.GetUtcNow();
        var entry = new AuditEntry
        {
            PartitionKey = at.ToString("yyyyMMdd", CultureInfo.InvariantCulture),
            RowKey = string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.MaxValue.UtcTicks - at.UtcTicks:D19}-{Guid.NewGuid():N}"),
            At = at,
            Who = who,
            Action = action,
            Subject = subject,
            Detail = detail,
        };
        await _storage.AuditTable.AddEntityAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Entries since <paramref name="since"/>, newest first, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken)
    {
        var entries = new List<AuditEntry>();
        for (var day = _time.GetUtcNow().UtcDateTime.Date; day >= since.UtcDateTime.Date && entries.Count < limit; day = day.AddDays(-1))
        {
            var partition = day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
            await foreach (var entry in _storage.AuditTable.QueryAsync<AuditEntry>(e => e.PartitionKey == partition, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (entry.At < since)
                {
                    return entries;
                }

                entries.Add(entry);
                if (entries.Count >= limit)
                {
                    break;
                }
            }
        }

        return entries;
    }
}
