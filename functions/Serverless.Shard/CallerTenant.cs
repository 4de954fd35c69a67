using Microsoft.AspNetCore.Http;
using Serverless.Core.Routing;

namespace Serverless.Shard;

/// <summary>Reads the caller's credentials from a request to this shard.</summary>
internal static class CallerTenant
{
    public static ValueTask<string?> ResolveAsync(ShardCallerAuthenticator authenticator, HttpRequest request, CancellationToken cancellationToken) =>
        authenticator.ResolveTenantAsync(request, cancellationToken);
}
