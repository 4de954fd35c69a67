using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using Serverless.Http.Hosting;
using Serverless.Publishing;

// Started again by the publisher as a validator child (ModelValidatorPool): validate, never host.
if (ModelValidatorWorker.IsRequested(args))
{
    return await ModelValidatorWorker.RunOnConsoleAsync().ConfigureAwait(false);
}

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddServerlessPublisher(builder.Configuration);
await builder.Build().RunAsync().ConfigureAwait(false);
return 0;
