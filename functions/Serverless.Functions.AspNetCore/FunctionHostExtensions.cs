using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using Serverless.Core.Storage;

namespace Serverless.Functions.AspNetCore;

/// <summary>
/// Runs a function app's classes under a plain ASP.NET Core host: the local cluster (where the Functions
/// host is not assumed) and the GPU container app (which is not a Functions app) both serve the same
/// function classes Azure Functions runs. HTTP triggers become routes with the same templates; blob
/// triggers become container pollers with receipts.
/// </summary>
public static class FunctionHostExtensions
{
    /// <summary>Registers what the function classes of <paramref name="assembly"/> need from the host.</summary>
    public static IServiceCollection AddFunctionHost(this IServiceCollection services, Assembly assembly)
    {
        services.AddMvcCore();
        services.AddRouting();
        services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddPrometheusExporter());
        services.AddOptions<BlobTriggerOptions>()
            .BindConfiguration(BlobTriggerOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.MaxScanIntervalSeconds >= o.ScanIntervalSeconds, $"{BlobTriggerOptions.SectionName}:{nameof(BlobTriggerOptions.MaxScanIntervalSeconds)} must be at least {BlobTriggerOptions.SectionName}:{nameof(BlobTriggerOptions.ScanIntervalSeconds)}")
            .ValidateOnStart();
        foreach (var blobFunction in FunctionMethod.Discover(assembly).Where(f => f.Trigger is BlobTriggerAttribute))
        {
            // Keyed by function name: the hosted service and the blob webhook (which delivers events to it) share it.
            services.AddKeyedSingleton(blobFunction.Name, (sp, _) => ActivatorUtilities.CreateInstance<BlobTriggerListener>(sp, blobFunction));
            services.AddSingleton<IHostedService>(sp => sp.GetRequiredKeyedService<BlobTriggerListener>(blobFunction.Name));
        }

        return services;
    }

    /// <summary>
    /// Maps every HTTP-triggered function of <paramref name="assembly"/>, plus <c>/admin/host/status</c>, the Prometheus
    /// scrape endpoint <c>/metrics</c> (behind the internal key: <see cref="MetricsAccess"/>), and, when the app has blob-triggered functions, the Functions host's Event Grid
    /// blob webhook <c>POST /runtime/webhooks/blobs?functionName=Host.Functions.{name}</c>.
    /// </summary>
    public static IEndpointRouteBuilder MapFunctions(this IEndpointRouteBuilder endpoints, Assembly assembly, string appName)
    {
        // Its series name every tenant and model served: the key first, in the exporter's own branch.
        endpoints.MapPrometheusScrapingEndpoint(
            path: "/metrics",
            meterProvider: null,
            configureBranchedPipeline: branch => branch.Use(MetricsAccess.RequireKeyAsync),
            optionsName: null);
        endpoints.MapGet("/admin/host/status", () => Results.Json(new HostStatus(appName, "Running"), HostJsonContext.Default.HostStatus));
        var functions = FunctionMethod.Discover(assembly);
        var blobFunctions = functions.Where(f => f.Trigger is BlobTriggerAttribute).Select(f => f.Name).ToArray();
        if (blobFunctions.Length > 0)
        {
            endpoints.MapPost("/" + EventGridBlobEvents.WebhookPath, context => BlobWebhook.HandleAsync(context, blobFunctions));
        }

        foreach (var function in functions)
        {
            if (function.Trigger is not HttpTriggerAttribute http)
            {
                continue;
            }

            var invoker = new FunctionInvoker(function);
            var methods = http.Methods is { Length: > 0 } m ? m.Select(x => x.ToUpperInvariant()).ToArray() : ["GET", "POST"];
            endpoints.MapMethods(http.Route ?? function.Name, methods, async context =>
            {
                var result = await invoker.InvokeAsync(
                    context.RequestServices,
                    context.Request,
                    name => context.Request.RouteValues.TryGetValue(name, out var v) ? v?.ToString() : null,
                    context.RequestAborted).ConfigureAwait(false);
                await FunctionInvoker.WriteResultAsync(context, result).ConfigureAwait(false);
            });
        }

        return endpoints;
    }
}
