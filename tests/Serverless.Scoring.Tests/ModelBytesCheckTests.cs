using System.Security.Cryptography;

namespace Serverless.Scoring.Tests;

/// <summary>Bytes read from Blob are compared with the SHA-256 their registry row was published with.</summary>
[TestClass]
public sealed class ModelBytesCheckTests
{
    private static readonly byte[] Published = [1, 2, 3, 4, 5];

    private static string Sha256Of(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    [TestMethod]
    public void ThePublishedBytesMatch_InEitherCaseOfHex()
    {
        var sha = Sha256Of(Published);

        Assert.IsTrue(ModelBytesCheck.Matches(Published, sha, out var actual));
        Assert.AreEqual(sha, actual);
        Assert.IsTrue(ModelBytesCheck.Matches(Published, sha.ToUpperInvariant(), out _));
    }

    [TestMethod]
    public void OtherBytesDoNotMatch_AndTheirHashIsGiven()
    {
        byte[] swapped = [1, 2, 3, 4, 6];

        Assert.IsFalse(ModelBytesCheck.Matches(swapped, Sha256Of(Published), out var actual));
        Assert.AreEqual(Sha256Of(swapped), actual);
    }

    [TestMethod]
    [DataRow("", DisplayName = "empty")]
    [DataRow("not-a-hash", DisplayName = "not hex")]
    [DataRow("74f81fe167d99b4cb41d6d0ccda82278caee9f3e2f25d5e5a3936ff3dcec60d", DisplayName = "63 digits")]
    public void AHashThatIsNotOneNeverMatches(string expected)
    {
        Assert.IsFalse(ModelBytesCheck.Matches(Published, expected, out _));
    }
}
