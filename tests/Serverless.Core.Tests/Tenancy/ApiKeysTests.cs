using Serverless.Core.Tenancy;

namespace Serverless.Core.Tests.Tenancy;

[TestClass]
public sealed class ApiKeysTests
{
    [TestMethod]
    public void Create_GivesAKeyThatParsesAndVerifies()
    {
        var (key, record) = ApiKeys.Create("demo");

        StringAssert.StartsWith(key, "demo.");
        Assert.IsTrue(ApiKeys.TryParse(key, out var tenant, out var secret));
        Assert.AreEqual("demo", tenant);
        Assert.AreEqual(key["demo.".Length..], secret);
        Assert.IsGreaterThanOrEqualTo(43, secret.Length, "a 256-bit secret is at least 43 base64 characters");
        Assert.IsTrue(ApiKeys.Verify(secret, record));
    }

    [TestMethod]
    public void Create_GivesADifferentKeyAndSaltEachTime()
    {
        var (key1, record1) = ApiKeys.Create("demo");
        var (key2, record2) = ApiKeys.Create("demo");
        Assert.AreNotEqual(key1, key2);
        Assert.AreNotEqual(record1.Split(':')[0], record2.Split(':')[0], "salts must differ");
    }

    [TestMethod]
    public void WrongSecret_IsRejected()
    {
        var (key, record) = ApiKeys.Create("demo");
        Assert.IsTrue(ApiKeys.TryParse(key, out _, out var secret));

        Assert.IsFalse(ApiKeys.Verify(secret + "x", record));
        Assert.IsFalse(ApiKeys.Verify(secret[..^1], record));
        Assert.IsFalse(ApiKeys.Verify("", record));
        Assert.IsFalse(ApiKeys.Verify(secret.ToUpperInvariant() == secret ? secret.ToLowerInvariant() : secret.ToUpperInvariant(), record));

        var (_, otherRecord) = ApiKeys.Create("demo");
        Assert.IsFalse(ApiKeys.Verify(secret, otherRecord), "another key's record must not accept this secret");
    }

    [TestMethod]
    public void MultipleRecords_AcceptAnyMatchingSecret()
    {
        var (key1, record1) = ApiKeys.Create("demo");
        var (key2, record2) = ApiKeys.Create("demo");
        var (key3, _) = ApiKeys.Create("demo");
        var records = $"{record1};{record2}";
        Assert.IsTrue(ApiKeys.TryParse(key1, out _, out var secret1));
        Assert.IsTrue(ApiKeys.TryParse(key2, out _, out var secret2));
        Assert.IsTrue(ApiKeys.TryParse(key3, out _, out var secret3));

        Assert.IsTrue(ApiKeys.Verify(secret1, records), "first record");
        Assert.IsTrue(ApiKeys.Verify(secret2, records), "second record");
        Assert.IsFalse(ApiKeys.Verify(secret3, records), "a key in neither record");
        Assert.IsTrue(ApiKeys.Verify(secret2, $";{record1};;{record2};"), "empty entries are skipped");
    }

    [TestMethod]
    public void NoRecords_RejectEverything()
    {
        var (key, _) = ApiKeys.Create("demo");
        Assert.IsTrue(ApiKeys.TryParse(key, out _, out var secret));
        Assert.IsFalse(ApiKeys.Verify(secret, ""));
        Assert.IsFalse(ApiKeys.Verify(secret, ";"));
        Assert.IsFalse(ApiKeys.Verify(secret, "norecord"));
    }

    [TestMethod]
    public void HashRecord_NeverContainsTheSecret()
    {
        for (var i = 0; i < 20; i++)
        {
            var (key, record) = ApiKeys.Create("demo");
            Assert.IsTrue(ApiKeys.TryParse(key, out _, out var secret));
            Assert.DoesNotContain(secret, record, StringComparison.Ordinal);
            Assert.DoesNotContain(key, record, StringComparison.Ordinal);

            // salt (16 bytes) ':' SHA-256 (32 bytes), lower-case hex.
            var parts = record.Split(':');
            Assert.HasCount(2, parts);
            Assert.AreEqual(32, parts[0].Length);
            Assert.AreEqual(64, parts[1].Length);
            Assert.IsTrue(record.All(c => c == ':' || char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c)), record);
        }
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow("")]
    [DataRow("nodot")]
    [DataRow(".secret")]
    [DataRow("demo.")]
    [DataRow(".")]
    public void MalformedKeys_AreRejected(string? key)
    {
        Assert.IsFalse(ApiKeys.TryParse(key, out var tenant, out var secret), key);
        Assert.AreEqual("", tenant);
        Assert.AreEqual("", secret);
    }

    [TestMethod]
    public void KeysLongerThan256Characters_AreRejected()
    {
        var at256 = "demo." + new string('s', 256 - 5);
        Assert.AreEqual(256, at256.Length);
        Assert.IsTrue(ApiKeys.TryParse(at256, out _, out _));

        var at257 = at256 + "s";
        Assert.IsFalse(ApiKeys.TryParse(at257, out _, out _));
    }

    [TestMethod]
    public void TheFirstDotSplitsTenantFromSecret()
    {
        Assert.IsTrue(ApiKeys.TryParse("demo.abc.def", out var tenant, out var secret));
        Assert.AreEqual("demo", tenant);
        Assert.AreEqual("abc.def", secret);
    }
}
