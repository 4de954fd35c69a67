using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Serverless.Functions.AspNetCore;
using Serverless.Http.Hosting;
using Serverless.LocalHost;
using Serverless.Publishing;

// The local function host: runs one function app's classes (the ones Azure runs) under a plain
// ASP.NET Core host on a loopback port, since the Functions host (Core Tools) is not assumed here.
// Usage: Serverless.LocalHost --app shard|router|publisher --port N   (settings from environment)
// Started again by the publisher as a validator child (ModelValidatorPool): validate, never host.
if (ModelValidatorWorker.IsRequested(args))
{
    return await ModelValidatorWorker.RunOnConsoleAsync().ConfigureAwait(false);
}

var builder = WebApplication.CreateBuilder(args);
var appName = builder.Configuration["app"] ?? "";
if (!FunctionApps.All.TryGetValue(appName, out var app))
{
    Console.Error.WriteLine($"--app must be one of: {string.Join(", ", FunctionApps.All.Keys)} (got '{appName}')");
    return 2;
}

builder.WebHost.UseUrls($"http://127.0.0.1:{builder.Configuration.GetValue("port", 0)}");
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss.fff ";
});
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
// Hosting logs only request starts and ends (Information, Debug), but with its category enabled at any level it
// starts an Activity per request for their log scope.
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.Extensions.Http", LogLevel.Warning);
app.Register(builder.Services, builder.Configuration);
// Here each app is its own Kestrel host (in Azure the Functions front end holds the client connections): the same
// slow-client and header-flood limits as the GPU app (section HttpLimits).
builder.Services.AddServerlessKestrelLimits(builder.Configuration);
builder.Services.AddFunctionHost(app.Assembly);

var web = builder.Build();
web.MapFunctions(app.Assembly, appName);
await web.RunAsync().ConfigureAwait(false);
return 0;
