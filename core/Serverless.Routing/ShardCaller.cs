using Serverless.Core.Tenancy;

namespace Serverless.Routing;

/// <summary>
/// Who a shard serves for one call. <paramref name="TenantName"/> is the tenant; <paramref name="Direct"/> is the
/// tenant's record when the caller presented the tenant's own API key (direct mode), so the shard applies the
/// tenant's quota and placement itself (<see cref="DirectCallGate"/>); null when the platform called with the
/// internal key (the router, the publisher, the CLI), which applied them already.
/// </summary>
public readonly record struct ShardCaller(string TenantName, Tenant? Direct);
