using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Http;

namespace Serverless.Shard;

/// <summary>v2 server health: live when the process answers, ready once its prewarm is done and while storage answers.</summary>
public sealed class HealthFunctions
{
    private readonly ShardEndpoints _endpoints;

    public HealthFunctions(ShardEndpoints endpoints)
    {
        _endpoints = endpoints;
    }

    [Function("ServerLive")]
    public IActionResult Live([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/health/live")] HttpRequest request) =>
        ShardEndpoints.ServerLive();

    [Function("ServerReady")]
    public IActionResult Ready([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v2/health/ready")] HttpRequest request) =>
        _endpoints.ServerReady();
}
