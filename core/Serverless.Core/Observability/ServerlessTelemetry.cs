using System.Diagnostics;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Serverless.Core.Observability;

/// <summary>
/// Traces and the OpenTelemetry wiring every app shares. The router opens a <c>router.forward</c> span per
/// attempt to a shard; HttpClient sends its W3C <c>traceparent</c>; the shard opens <c>shard.infer</c> as
/// its child, so one trace runs router → shard. Metrics and traces go to Azure Monitor when
/// <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is set (traces are only collected then); locally the hosts add a
/// Prometheus <c>/metrics</c>.
/// </summary>
public static class ServerlessTelemetry
{
    public const string SourceName = "Serverless";
    public const string ConnectionStringSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The span of one forward from the router to a shard (null when nobody listens).</summary>
    public static Activity? StartForward(string shard, string tenant, string model)
    {
        var activity = Source.StartActivity("router.forward", ActivityKind.Client);
        activity?.SetTag("serverless.shard", shard);
        activity?.SetTag("serverless.tenant", tenant);
        activity?.SetTag("serverless.model", model);
        return activity;
    }

    /// <summary>
    /// The span of one inference on a shard: a child of the caller's span, from the current activity (the
    /// host's request span) or else from the request's <c>traceparent</c> header.
    /// </summary>
    public static Activity? StartShardInfer(string? traceparent, string? tracestate, string tenant, string model)
    {
        Activity? activity;
        if (Activity.Current is null && ActivityContext.TryParse(traceparent, tracestate, out var parent))
        {
            activity = Source.StartActivity("shard.infer", ActivityKind.Server, parent);
        }
        else
        {
            activity = Source.StartActivity("shard.infer", ActivityKind.Server);
        }

        activity?.SetTag("serverless.tenant", tenant);
        activity?.SetTag("serverless.model", model);
        return activity;
    }

    /// <summary>
    /// Registers the request instruments, the router's request window and OpenTelemetry
    /// (meters <see cref="ServerlessMetrics.MeterNames"/>, source <see cref="SourceName"/>; Azure Monitor
    /// when <see cref="ConnectionStringSetting"/> is set). <paramref name="configure"/> adds exporters (the
    /// local host's Prometheus endpoint).
    /// </summary>
    /// <summary>The runtime's built-in meter (.NET 9 and later): <c>dotnet.gc.pause.time</c>, <c>dotnet.gc.collections</c>, …</summary>
    public const string RuntimeMeterName = "System.Runtime";

    public static IServiceCollection AddServerlessObservability(this IServiceCollection services, IConfiguration configuration, Action<MeterProviderBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddMetrics();
        services.TryAddSingleton<RequestWindow>();
        services.TryAddSingleton<ServerlessMetrics>();
        services.TryAddSingleton<ShardMeterTotals>();
        if (!services.Any(d => d.ServiceType == typeof(ObservabilityMarker)))
        {
            services.AddSingleton<ObservabilityMarker>();
            services.AddSingleton<IHostedService, ObservabilityStartup>();
            var connectionString = configuration[ConnectionStringSetting];
            var serviceName = configuration["Shard:Id"] is { Length: > 0 } shard ? shard : configuration["app"] is { Length: > 0 } app ? app : "serverless";
            var otel = services.AddOpenTelemetry()
                .ConfigureResource(r => r.AddService(serviceName))
                .WithMetrics(metrics =>
                {
                    metrics.AddMeter(ServerlessMetrics.MeterNames);
                    // .NET's own (GC pauses and collections, heap sizes, thread pool queue): observable instruments,
                    // read at export, nothing per request; what a tail under load is made of shows there.
                    metrics.AddMeter(RuntimeMeterName);
                    if (!string.IsNullOrEmpty(connectionString))
                    {
                        metrics.AddAzureMonitorMetricExporter(o => o.ConnectionString = connectionString);
                    }
                });
            if (!string.IsNullOrEmpty(connectionString))
            {
                // Only with somewhere to send them: a tracer provider listening to the source without an exporter
                // would still build, sample and tag every span of every request, for nobody (locally).
                otel.WithTracing(tracing => tracing.AddSource(SourceName).AddAzureMonitorTraceExporter(o => o.ConnectionString = connectionString));
            }
        }

        if (configure is not null)
        {
            services.ConfigureOpenTelemetryMeterProvider(configure);
        }

        return services;
    }

    /// <summary>Marks that OpenTelemetry is registered, so it is registered once.</summary>
    private sealed class ObservabilityMarker;
}
