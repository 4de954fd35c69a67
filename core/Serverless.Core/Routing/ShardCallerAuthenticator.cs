using Serverless.Core.Tenancy;

namespace Serverless.Core.Routing;

/// <summary>
/// Who a shard is serving: a client in direct mode presents its own API key (checked like the router
/// does); the router passes the tenant it already authenticated in <see cref="ShardHeaders.Tenant"/>.
/// (Restricting that header to the router's own calls is the internal key of the security work.)
/// </summary>
public sealed class ShardCallerAuthenticator
{
    private readonly TenantStore _tenants;

    public ShardCallerAuthenticator(TenantStore tenants)
    {
        _tenants = tenants;
    }

    public const string MissingMessage = "missing credentials: send an API key ('Authorization: Bearer <key>' or 'x-api-key'), or call through the router";

    /// <summary>The tenant's name, or null when the caller is not known (401).</summary>
    public async ValueTask<string?> ResolveTenantAsync(string? tenantHeader, string? authorization, string? apiKey, CancellationToken cancellationToken)
    {
        var key = ApiKeyHeader.Read(authorization, apiKey);
        if (key is not null)
        {
            return (await _tenants.AuthenticateAsync(key, cancellationToken).ConfigureAwait(false))?.Name;
        }

        return string.IsNullOrEmpty(tenantHeader) ? null : tenantHeader;
    }
}
