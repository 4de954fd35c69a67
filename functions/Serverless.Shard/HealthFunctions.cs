using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Core.Http;
using Serverless.Core.Protocol;
using Serverless.Core.Scoring;
using Serverless.Core.Sharding;

namespace Serverless.Shard;

/// <summary>v2 server health: live when the process answers, ready once its prewarm is done.</summary>
public sealed class HealthFunctions
{
    private readonly ShardReadiness _readiness;
    private readonly OrtRuntime _runtime;

    public HealthFunctions(ShardReadiness readiness, OrtRuntime runtime)
    {
        _readiness = readiness;
        _runtime = runtime;
    }

    [Function("ServerLive")]
    public IActionResult Live([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/health/live")] HttpRequest request) =>
        new JsonBytesResult(200, JsonBodies.Health(new HealthResponse(Live: true)));

    [Function("ServerReady")]
    public IActionResult Ready([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/health/ready")] HttpRequest request) =>
        new JsonBytesResult(_readiness.IsReady ? 200 : 503, JsonBodies.Health(new HealthResponse(Ready: _readiness.IsReady, Detail: _readiness.Detail, ExecutionProvider: _runtime.ExecutionProvider)));
}
