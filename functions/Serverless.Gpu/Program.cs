using Serverless.Http.Hosting;
using Serverless.Functions.AspNetCore;

// The GPU app: the same v2 endpoints as a shard (the shard's own function classes), serving the
// `gpu` pool, with sessions on the CUDA execution provider when there is one (Ort__ExecutionProvider=cuda).
// It is its own Kestrel host in Azure (no Functions front end), so AddServerlessGpu adds the slow-client limits.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddServerlessGpu(builder.Configuration);
builder.Services.AddFunctionHost(typeof(Serverless.Shard.InferFunction).Assembly);
var app = builder.Build();
app.MapFunctions(typeof(Serverless.Shard.InferFunction).Assembly, "gpu");
app.Run();
