using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serverless.LocalHost;

// The local function host: runs one function app's classes (the ones Azure runs) under a plain
// ASP.NET Core host on a loopback port, since the Functions host (Core Tools) is not assumed here.
// Usage: Serverless.LocalHost --app shard|router|publisher --port N   (settings from environment)
var builder = WebApplication.CreateBuilder(args);
var appName = builder.Configuration["app"] ?? "";
if (!FunctionApps.All.TryGetValue(appName, out var app))
{
    Console.Error.WriteLine($"--app must be one of: {string.Join(", ", FunctionApps.All.Keys)} (got '{appName}')");
    return 2;
}

var port = builder.Configuration.GetValue("port", 0);
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss.fff ";
});
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.Extensions.Http", LogLevel.Warning);
builder.Services.AddMvcCore();
builder.Services.AddRouting();
app.Register(builder.Services, builder.Configuration);

var functions = FunctionMethod.Discover(app.Assembly);
foreach (var blobFunction in functions.Where(f => f.Trigger is BlobTriggerAttribute))
{
    builder.Services.AddSingleton<IHostedService>(sp => ActivatorUtilities.CreateInstance<BlobTriggerListener>(sp, blobFunction));
}

var web = builder.Build();
web.MapGet("/admin/host/status", () => Results.Json(new HostStatus(appName, "Running"), HostJsonContext.Default.HostStatus));
foreach (var function in functions)
{
    if (function.Trigger is not HttpTriggerAttribute http)
    {
        continue;
    }

    var invoker = new FunctionInvoker(function);
    var methods = http.Methods is { Length: > 0 } m ? m.Select(x => x.ToUpperInvariant()).ToArray() : ["GET", "POST"];
    web.MapMethods(http.Route ?? function.Name, methods, async context =>
    {
        var result = await invoker.InvokeAsync(
            context.RequestServices,
            context.Request,
            name => context.Request.RouteValues.TryGetValue(name, out var v) ? v?.ToString() : null,
            context.RequestAborted).ConfigureAwait(false);
        await FunctionInvoker.WriteResultAsync(context, result).ConfigureAwait(false);
    });
}

await web.RunAsync().ConfigureAwait(false);
return 0;
