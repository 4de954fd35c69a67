using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;
using Serverless.Http;
using Serverless.Core.Observability;
using Serverless.Core.Protocol;
using Serverless.Routing;
using Serverless.Scoring;

namespace Serverless.Shard;

/// <summary>
/// <c>GET /internal/stats</c>: this shard's session cache and counters as JSON, for the router's dashboard.
/// Only for the platform: it needs the internal key when one is configured.
/// </summary>
public sealed class StatsFunction
{
    private readonly ShardStatsReporter _reporter;
    private readonly InternalKeyOptions _internalKey;

    public StatsFunction(ShardStatsReporter reporter, IOptions<InternalKeyOptions> internalKey)
    {
        _reporter = reporter;
        _internalKey = internalKey.Value;
    }

    [Function("ShardStats")]
    public IActionResult Stats([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = DashboardService.StatsPath)] HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_internalKey.IsConfigured && !_internalKey.Matches(request.Headers[ShardHeaders.InternalKey].ToString()))
        {
            return new JsonBytesResult(401, JsonBodies.Error($"the stats are for the platform only: send header '{ShardHeaders.InternalKey}'"));
        }

        return new JsonBytesResult(200, JsonSerializer.SerializeToUtf8Bytes(_reporter.Current(), DashboardJsonContext.Default.ShardStats));
    }
}
