using Microsoft.AspNetCore.Http;
using Serverless.Core.Routing;

namespace Serverless.Shard;

/// <summary>The tenant the router authenticated, passed to the shard in a header.</summary>
internal static class TenantHeader
{
    public static string? Read(HttpRequest request) =>
        request.Headers.TryGetValue(ShardHeaders.Tenant, out var value) && !string.IsNullOrEmpty(value) ? value.ToString() : null;

    public static readonly string MissingMessage = $"missing '{ShardHeaders.Tenant}' header: shards are called through the router";
}
