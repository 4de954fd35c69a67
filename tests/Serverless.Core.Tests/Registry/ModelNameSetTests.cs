using System.Globalization;
using Serverless.Core.Registry;

namespace Serverless.Core.Tests.Registry;

[TestClass]
public sealed class ModelNameSetTests
{
    [TestMethod]
    public void QuarterMillionNames_AllFound_TwoMegabytes_JunkNeverFound()
    {
        const int Models = 250_000;
        var names = new List<string>(Models);
        for (var i = 0; i < Models; i++)
        {
            names.Add("model-" + i.ToString(CultureInfo.InvariantCulture));
        }

        var set = ModelNameSet.Of(names, seed: 0x5eed);

        Assert.AreEqual(Models, set.Count);
        // 8 bytes a name: the bound docs/reliability.md gives.
        Assert.AreEqual(Models * 8L, set.Bytes);
        foreach (var name in names)
        {
            Assert.IsTrue(set.Contains(name), name);
        }

        // 10,000 distinct made-up names: a false positive is ~n/2^64 each, so none gets through.
        for (var i = 0; i < 10_000; i++)
        {
            Assert.IsFalse(set.Contains("junk-" + i.ToString(CultureInfo.InvariantCulture)));
        }
    }

    [TestMethod]
    public void Duplicates_AreOneName_AndTheSeedChangesTheHash()
    {
        var set = ModelNameSet.Of(["a", "b", "a", "b", "c"], seed: 1);
        Assert.AreEqual(3, set.Count);
        Assert.IsTrue(set.Contains("c"));
        Assert.IsFalse(set.Contains("d"));
        Assert.AreNotEqual(ModelNameSet.Hash("a", 1), ModelNameSet.Hash("a", 2));
    }

    [TestMethod]
    public void EmptySet_HasNothing()
    {
        var set = ModelNameSet.Of([], seed: 7);
        Assert.AreEqual(0, set.Count);
        Assert.IsFalse(set.Contains("anything"));
    }
}
