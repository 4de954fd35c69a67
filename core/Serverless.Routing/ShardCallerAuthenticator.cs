using System.Buffers;
using Microsoft.Extensions.Options;
using Serverless.Core.Tenancy;

namespace Serverless.Routing;

/// <summary>
/// Who a shard is serving. The router (and the publisher and CLI, warming models) names the tenant it
/// already authenticated in <see cref="ShardHeaders.Tenant"/>, which is trusted only together with the
/// internal key (<see cref="ShardHeaders.InternalKey"/>, compared in constant time). Any other caller (a
/// client in direct mode) presents its own API key, checked as the router does. With no internal key
/// configured the tenant header is trusted as it is (local development only; a warning is logged at start).
/// </summary>
public sealed class ShardCallerAuthenticator
{
    /// <summary>The characters of a SHA-256 as the registry and the router write it (lower-case hex).</summary>
    private static readonly SearchValues<char> Sha256Digits = SearchValues.Create("0123456789abcdef");
    private readonly VerifiedApiKeys _verifiedKeys;
    private readonly InternalKeyOptions _internalKey;

    public ShardCallerAuthenticator(TenantStore tenants, IOptions<InternalKeyOptions> internalKey, TimeProvider time)
    {
        // Direct-mode callers present their key on every request: verified keys are remembered briefly.
        _verifiedKeys = new VerifiedApiKeys(tenants, time);
        _internalKey = internalKey.Value;
    }

    public const string MissingMessage = "missing credentials: send an API key ('Authorization: Bearer <key>' or 'x-api-key'), or call through the router";

    /// <summary>
    /// The SHA-256 of the version the router resolved (<see cref="ShardHeaders.ModelSha256"/>) when the request
    /// comes from the router with the internal key; null from any other caller, or without a configured internal
    /// key (then nothing proves who called), or when it is not a SHA-256 as the registry writes it (64 lower-case hex).
    /// </summary>
    public string? RoutedModelSha256(string? sha256, string? tenantHeader, string? internalKey, string? authorization, string? apiKey) =>
        sha256 is { Length: 64 }
            && !sha256.AsSpan().ContainsAnyExcept(Sha256Digits)
            && _internalKey.IsConfigured
            && ApiKeyHeader.Read(authorization, apiKey) is null
            && !string.IsNullOrEmpty(tenantHeader)
            && _internalKey.Matches(internalKey)
            ? sha256
            : null;

    /// <summary>The tenant's name, or null when the caller is not known (401).</summary>
    public async ValueTask<string?> ResolveTenantAsync(string? tenantHeader, string? internalKey, string? authorization, string? apiKey, CancellationToken cancellationToken) =>
        (await ResolveCallerAsync(tenantHeader, internalKey, authorization, apiKey, cancellationToken).ConfigureAwait(false))?.TenantName;

    /// <summary>
    /// Who calls: a direct-mode client with its tenant's record (its own API key), the platform naming the tenant
    /// (the internal key), or null when the caller is not known (401).
    /// </summary>
    public async ValueTask<ShardCaller?> ResolveCallerAsync(string? tenantHeader, string? internalKey, string? authorization, string? apiKey, CancellationToken cancellationToken)
    {
        var key = ApiKeyHeader.Read(authorization, apiKey);
        if (key is not null)
        {
            return await _verifiedKeys.AuthenticateAsync(key, cancellationToken).ConfigureAwait(false) is { } tenant
                ? new ShardCaller(tenant.Name, tenant)
                : null;
        }

        if (string.IsNullOrEmpty(tenantHeader))
        {
            return null;
        }

        // Without a configured key the header is trusted as before (a warning was logged at start).
        return !_internalKey.IsConfigured || _internalKey.Matches(internalKey) ? new ShardCaller(tenantHeader, null) : null;
    }
}
