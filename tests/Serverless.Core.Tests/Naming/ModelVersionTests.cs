using Serverless.Core.Naming;

namespace Serverless.Core.Tests.Naming;

[TestClass]
public sealed class ModelVersionTests
{
    [TestMethod]
    [DataRow("2", "10")]
    [DataRow("9", "10")]
    [DataRow("1.2.0-rc.1", "1.2.0")]
    [DataRow("1.2.0-alpha", "1.2.0-beta")]
    [DataRow("1.2.0-alpha", "1.2.0-alpha.1")]
    [DataRow("1.2.0-rc.1", "1.2.0-rc.2")]
    [DataRow("1.9.0", "1.10.0")]
    [DataRow("1.2.9", "1.2.10")]
    [DataRow("1.99.99", "2")]
    [DataRow("2", "2.0.1")]
    [DataRow("0", "0.0.1")]
    [DataRow("3", "4.0.0-rc.1")]
    [DataRow("123456789012345677", "123456789012345678")]
    public void Compare_OrdersLowerBeforeHigher(string lower, string higher)
    {
        Assert.IsLessThan(0, ModelVersion.Compare(lower, higher), $"{lower} < {higher}");
        Assert.IsGreaterThan(0, ModelVersion.Compare(higher, lower), $"{higher} > {lower}");
    }

    [TestMethod]
    [DataRow("3", "3.0.0")]
    [DataRow("3", "3")]
    [DataRow("0", "0.0.0")]
    [DataRow("1.2.0-rc.1", "1.2.0-rc.1")]
    public void Compare_TreatsEqualVersionsAsEqual(string left, string right)
    {
        Assert.AreEqual(0, ModelVersion.Compare(left, right));
        Assert.AreEqual(0, ModelVersion.Compare(right, left));
    }

    [TestMethod]
    public void Compare_SortsAListOfVersions()
    {
        string[] expected = ["1", "1.0.1", "1.2.0-alpha", "1.2.0-rc.1", "1.2.0", "2", "2.1.0", "10", "10.0.1"];
        var shuffled = expected.Reverse().ToList();
        shuffled.Sort(ModelVersion.Compare);
        CollectionAssert.AreEqual(expected, shuffled);
    }

    [TestMethod]
    public void Compare_OrdersNumericPreReleaseIdentifiersNumerically()
    {
        // SemVer 2.0.0 §11: 1.0.0-rc.2 < 1.0.0-rc.10 (numeric identifiers compare as numbers) and
        // 1.0.0-2 < 1.0.0-10; the class doc promises "as semantic versioning says".
        Assert.IsLessThan(0, ModelVersion.Compare("1.0.0-rc.2", "1.0.0-rc.10"));
        Assert.IsLessThan(0, ModelVersion.Compare("1.0.0-2", "1.0.0-10"));
    }

    [TestMethod]
    public void Compare_PutsNumericPreReleaseIdentifiersBeforeAlphanumericOnes()
    {
        // SemVer §11.4.3: numeric identifiers have lower precedence than alphanumeric ones.
        Assert.IsLessThan(0, ModelVersion.Compare("1.0.0-1", "1.0.0-alpha"));
    }
}
