using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Serverless.Core.Serving;

namespace Serverless.Core.Observability;

/// <summary>
/// The platform's request instruments (meter <see cref="MeterName"/>), tagged by app, tenant, model, shard
/// and status: <c>serverless.requests</c> (counter), <c>serverless.request.duration</c> (ms histogram) and
/// <c>serverless.queue.duration</c> (ms a shard request waited for its session: a load or a single flight).
/// The session cache's own instruments (hits, misses, evictions, resident bytes) and the load time are on
/// meter <c>Serverless.Shard</c>. On the router each request also goes into the <see cref="RequestWindow"/>
/// the dashboard reads.
/// </summary>
public sealed class ServerlessMetrics
{
    public const string MeterName = "Serverless";

    /// <summary>The meters every app exports.</summary>
    public static readonly string[] MeterNames = [MeterName, "Serverless.Shard", Storage.StorageReadCounter.MeterName];

    /// <summary>
    /// The model label of every 404: a name the client made up (or a version it does not have) must not become a
    /// series of its own, or junk names would fill the exporter's series cap and push real models into overflow.
    /// </summary>
    public const string UnknownModel = "_unknown";

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _queue;
    private readonly RequestWindow _window;
    private readonly string _shardId;

    public ServerlessMetrics(IMeterFactory meterFactory, RequestWindow window, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(configuration);
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("serverless.requests", "{request}", "Inference requests answered, by app, tenant, model, shard, status and cache");
        _duration = meter.CreateHistogram<double>("serverless.request.duration", "ms", "Inference request latency, by app, tenant, model, shard and status");
        _queue = meter.CreateHistogram<double>("serverless.queue.duration", "ms", "Time a shard request waited for its session (load or single flight) before running");
        _window = window;
        _shardId = configuration["Shard:Id"] ?? "";
    }

    /// <summary>The rolling window of the router's requests (what the dashboard shows).</summary>
    public RequestWindow Window => _window;

    /// <summary>Records one request the router answered (forwarded or not).</summary>
    public ServingResult Routed(string tenant, string model, ServingResult response, long startedTimestamp)
    {
        ArgumentNullException.ThrowIfNull(response);
        var elapsed = Stopwatch.GetElapsedTime(startedTimestamp).TotalMilliseconds;
        var shard = response.ServedBy ?? "";
        var status = HttpStatusMapping.ToStatus(response);
        model = ModelLabel(model, status);
        var tags = Tags("router", tenant, model, shard, status, response.Cache);
        _requests.Add(1, tags);
        _duration.Record(elapsed, tags);
        _window.Record(tenant, model, shard, status, elapsed);
        return response;
    }

    /// <summary>Records one request a shard answered.</summary>
    public ServingResult Scored(string tenant, string model, ServingResult result, long startedTimestamp)
    {
        ArgumentNullException.ThrowIfNull(result);
        var elapsed = Stopwatch.GetElapsedTime(startedTimestamp).TotalMilliseconds;
        var status = HttpStatusMapping.ToStatus(result);
        var tags = Tags("shard", tenant, ModelLabel(model, status), _shardId, status, result.Cache);
        _requests.Add(1, tags);
        _duration.Record(elapsed, tags);
        return result;
    }

    /// <summary>Records how long a shard request waited for its session.</summary>
    public void Queued(string tenant, string model, bool cacheHit, long startedTimestamp)
    {
        var tags = new TagList
        {
            { "tenant", tenant },
            { "model", model },
            { "shard", _shardId },
            { "cache", cacheHit ? "hit" : "miss" },
        };
        _queue.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalMilliseconds, tags);
    }

    /// <summary>The model label a request is recorded under: <see cref="UnknownModel"/> for a 404, else the model.</summary>
    public static string ModelLabel(string model, int status) => status == 404 ? UnknownModel : model;

    private static TagList Tags(string app, string tenant, string model, string shard, int status, string? cache)
    {
        var tags = new TagList
        {
            { "app", app },
            { "tenant", tenant },
            { "model", model },
            { "shard", shard },
            { "status", StatusText(status) },
        };
        if (cache is not null)
        {
            tags.Add("cache", cache);
        }

        return tags;
    }

    private static readonly string[] CommonStatuses = BuildStatuses();

    private static string[] BuildStatuses()
    {
        var all = new string[600];
        for (var i = 0; i < all.Length; i++)
        {
            all[i] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return all;
    }

    /// <summary>The status code as text without allocating for the usual ones.</summary>
    public static string StatusText(int status) =>
        status >= 0 && status < CommonStatuses.Length ? CommonStatuses[status] : status.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
