using Serverless.Http.Hosting;
using Serverless.Functions.AspNetCore;

// The GPU app: the same v2 endpoints as a shard (the shard's own function classes), serving the
// `gpu` pool, with sessions on the CUDA execution provider when there is one (Ort__ExecutionProvider=cuda).
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddServerlessShard(builder.Configuration);
builder.Services.AddFunctionHost(typeof(Serverless.Shard.InferFunction).Assembly);
var app = builder.Build();
app.MapFunctions(typeof(Serverless.Shard.InferFunction).Assembly, "gpu");
app.Run();
