using System.Diagnostics.Metrics;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Serverless.Core.Storage;

/// <summary>
/// Counts the process's Table storage reads (GET requests) by table: counter <c>serverless.storage.reads</c> on meter
/// <see cref="MeterName"/>, so what a request costs storage shows on <c>/metrics</c> (made-up names must not move it).
/// An SDK pipeline policy on the table clients: every read through <see cref="StorageClients"/> is counted, retries too.
/// </summary>
public sealed class StorageReadCounter : HttpPipelineSynchronousPolicy
{
    public const string MeterName = "Serverless.Storage";

    // The label is one of these names or "other": what storage answers cannot grow the series.
    private static readonly string[] Tables = [StorageNames.ModelsTable, StorageNames.PlacementsTable, StorageNames.ShardsTable, StorageNames.TenantsTable, StorageNames.RegistryEpochsTable, StorageNames.RegistryNamesTable];
    private readonly string[] _segments;
    private readonly Counter<long> _reads;

    public StorageReadCounter(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        _reads = meter.CreateCounter<long>("serverless.storage.reads", "{read}", "Table storage reads (GET requests, retries included), by table");
        _segments = new string[Tables.Length];
        for (var i = 0; i < Tables.Length; i++)
        {
            _segments[i] = "/" + Tables[i] + "(";
        }
    }

    public override void OnSendingRequest(HttpMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Request.Method != RequestMethod.Get)
        {
            return;
        }

        var path = message.Request.Uri.Path;
        var table = "other";
        for (var i = 0; i < _segments.Length; i++)
        {
            if (path.Contains(_segments[i], StringComparison.Ordinal))
            {
                table = Tables[i];
                break;
            }
        }

        _reads.Add(1, new KeyValuePair<string, object?>("table", table));
    }
}
