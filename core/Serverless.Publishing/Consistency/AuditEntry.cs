using Azure;
using Azure.Data.Tables;

namespace Serverless.Publishing;

/// <summary>
/// One line of the audit log (Table <c>audit</c>): partition the UTC day (<c>yyyyMMdd</c>), row key the time
/// inverted so a day's partition lists newest first, then a random suffix so two entries in one tick both stay.
/// </summary>
public sealed class AuditEntry : ITableEntity
{
    public string PartitionKey { get; set; } = "";

    public string RowKey { get; set; } = "";

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>When it happened (UTC).</summary>
    public DateTimeOffset At { get; set; }

    /// <summary>Who did it: the user and machine of the CLI that ran the command.</summary>
    public string Who { get; set; } = "";

    /// <summary>The command or repair: <c>alias</c>, <c>retire</c>, <c>delete</c>, <c>fsck-repair</c>.</summary>
    public string Action { get; set; } = "";

    /// <summary>What it acted on: <c>tenant/model/version</c>, <c>tenant/model@alias</c>, a blob name.</summary>
    public string Subject { get; set; } = "";

    /// <summary>What it did, in words.</summary>
    public string Detail { get; set; } = "";
}
