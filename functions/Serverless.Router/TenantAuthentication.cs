using Microsoft.AspNetCore.Http;
using Serverless.Core.Routing;

namespace Serverless.Router;

/// <summary>Reads the API key from the request's headers.</summary>
internal static class TenantAuthentication
{
    public static string? ApiKey(HttpRequest request) =>
        ApiKeyHeader.Read(request.Headers.Authorization.ToString(), request.Headers[ShardHeaders.ApiKey].ToString());
}
