using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Serverless.Routing;
using Serverless.Core.Storage;
using Serverless.Core.Tenancy;

namespace Serverless.Routing.Tests;

/// <summary>
/// A shard trusts the tenant header only with the internal key. (The API-key path needs storage; the
/// integration tests cover it.) No storage is reached here: the tenant-header paths make no storage call.
/// </summary>
[TestClass]
public sealed class ShardCallerAuthenticatorTests
{
    private const string Key = "a-long-random-internal-key-0123456789";

    private static ShardCallerAuthenticator Create(string shardKey, out MemoryCache cache)
    {
        cache = new MemoryCache(new MemoryCacheOptions());
        // A connection string that is never used: the paths tested here make no storage call.
        var storage = new StorageClients(Options.Create(new StorageOptions { ConnectionString = "UseDevelopmentStorage=true" }));
        return new ShardCallerAuthenticator(new TenantStore(storage, cache, TimeProvider.System), Options.Create(new InternalKeyOptions { ShardKey = shardKey }), TimeProvider.System);
    }

    [TestMethod]
    public async Task TenantHeader_WithTheInternalKey_IsTrusted()
    {
        var authenticator = Create(Key, out var cache);
        using (cache)
        {
            Assert.AreEqual("acme", await authenticator.ResolveTenantAsync("acme", Key, null, null, CancellationToken.None));
        }
    }

    [TestMethod]
    [DataRow(null, DisplayName = "no internal key")]
    [DataRow("", DisplayName = "empty internal key")]
    [DataRow("wrong", DisplayName = "wrong internal key")]
    [DataRow(Key + "x", DisplayName = "the key with one more character")]
    public async Task TenantHeader_WithoutTheInternalKey_IsNotTrusted(string? presented)
    {
        var authenticator = Create(Key, out var cache);
        using (cache)
        {
            Assert.IsNull(await authenticator.ResolveTenantAsync("acme", presented, null, null, CancellationToken.None));
        }
    }

    [TestMethod]
    public async Task NoKeyConfigured_KeepsTrustingTheTenantHeader()
    {
        var authenticator = Create("", out var cache);
        using (cache)
        {
            Assert.AreEqual("acme", await authenticator.ResolveTenantAsync("acme", null, null, null, CancellationToken.None));
            Assert.IsNull(await authenticator.ResolveTenantAsync(null, null, null, null, CancellationToken.None));
        }
    }

    [TestMethod]
    public void Matches_IsExact()
    {
        var options = new InternalKeyOptions { ShardKey = Key };
        Assert.IsTrue(options.Matches(Key));
        Assert.IsFalse(options.Matches(Key.ToUpperInvariant()));
        Assert.IsFalse(options.Matches(Key[..^1]));
        Assert.IsFalse(options.Matches(null));
        Assert.IsFalse(new InternalKeyOptions().Matches(""), "no key configured matches nothing");
    }
}
