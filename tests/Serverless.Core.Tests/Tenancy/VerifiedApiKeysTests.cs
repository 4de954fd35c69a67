using Microsoft.Extensions.Time.Testing;
using Serverless.Core.Tenancy;

namespace Serverless.Core.Tests.Tenancy;

/// <summary>
/// The router's and shards' memory of verified API keys: a remembered key skips the store, anything else
/// (a wrong secret, another tenant's name, an expired memory) goes to it, and a revoked key stops working
/// once the memory expires.
/// </summary>
[TestClass]
public sealed class VerifiedApiKeysTests
{
    private const string Secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
    private const string Key = "acme." + Secret;
    private static readonly Tenant Acme = new("acme", 2, 100);

    [TestMethod]
    public async Task AVerifiedKey_IsRememberedForItsLifetime_ThenVerifiedAgain()
    {
        var store = new FakeStore(Key);
        var time = new FakeTimeProvider();
        var keys = new VerifiedApiKeys(store.AuthenticateAsync, time);

        Assert.AreEqual(Acme, await keys.AuthenticateAsync(Key, CancellationToken.None));
        Assert.AreEqual(Acme, await keys.AuthenticateAsync(Key, CancellationToken.None));
        Assert.AreEqual(1, store.Calls, "the second request is answered from memory");

        time.Advance(VerifiedApiKeys.Lifetime);
        Assert.AreEqual(Acme, await keys.AuthenticateAsync(Key, CancellationToken.None));
        Assert.AreEqual(2, store.Calls, "past its lifetime the key is verified by the store again");
    }

    [TestMethod]
    public async Task ARevokedKey_StopsWorking_WhenItsMemoryExpires()
    {
        var store = new FakeStore(Key);
        var time = new FakeTimeProvider();
        var keys = new VerifiedApiKeys(store.AuthenticateAsync, time);
        Assert.AreEqual(Acme, await keys.AuthenticateAsync(Key, CancellationToken.None));

        store.ValidKeys.Clear();
        time.Advance(VerifiedApiKeys.Lifetime);
        Assert.IsNull(await keys.AuthenticateAsync(Key, CancellationToken.None));
        Assert.IsNull(await keys.AuthenticateAsync(Key, CancellationToken.None), "a refused key is never remembered");
        Assert.AreEqual(3, store.Calls);
    }

    [TestMethod]
    [DataRow("acme.wrong", DisplayName = "wrong secret")]
    [DataRow("acme." + Secret + "x", DisplayName = "the secret with one more character")]
    [DataRow("acme." + "C2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", DisplayName = "the secret in another case")]
    [DataRow("acm." + Secret, DisplayName = "the secret under another tenant name")]
    [DataRow("acmex." + Secret, DisplayName = "the secret under a longer tenant name")]
    [DataRow(Secret, DisplayName = "no tenant part")]
    [DataRow("", DisplayName = "empty")]
    [DataRow(null, DisplayName = "missing")]
    public async Task AnythingButARememberedKey_GoesToTheStore(string? presented)
    {
        var store = new FakeStore(Key);
        var keys = new VerifiedApiKeys(store.AuthenticateAsync, new FakeTimeProvider());
        Assert.AreEqual(Acme, await keys.AuthenticateAsync(Key, CancellationToken.None));

        Assert.IsNull(await keys.AuthenticateAsync(presented, CancellationToken.None));
        Assert.AreEqual(2, store.Calls, "not answered from memory");
    }

    [TestMethod]
    public async Task BothKeysOfARotation_AreRemembered()
    {
        const string other = "acme.b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXI";
        var store = new FakeStore(Key, other);
        var keys = new VerifiedApiKeys(store.AuthenticateAsync, new FakeTimeProvider());
        Assert.AreEqual(Acme, await keys.AuthenticateAsync(Key, CancellationToken.None));
        Assert.AreEqual(Acme, await keys.AuthenticateAsync(other, CancellationToken.None));
        Assert.AreEqual(Acme, await keys.AuthenticateAsync(Key, CancellationToken.None));
        Assert.AreEqual(Acme, await keys.AuthenticateAsync(other, CancellationToken.None));
        Assert.AreEqual(2, store.Calls);
    }

    /// <summary>Stands in for <see cref="TenantStore.AuthenticateAsync"/>: accepts the keys given, counts its calls.</summary>
    private sealed class FakeStore
    {
        public FakeStore(params string[] validKeys)
        {
            ValidKeys = [.. validKeys];
        }

        public HashSet<string> ValidKeys { get; }

        public int Calls { get; private set; }

        public ValueTask<Tenant?> AuthenticateAsync(string? apiKey, CancellationToken cancellationToken)
        {
            Calls++;
            return ValueTask.FromResult(apiKey is not null && ValidKeys.Contains(apiKey) ? Acme : null);
        }
    }
}
