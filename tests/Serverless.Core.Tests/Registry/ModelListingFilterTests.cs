using Serverless.Core.Registry;

namespace Serverless.Core.Tests.Registry;

/// <summary>The filters <see cref="ModelListing"/> sends: key ranges for tenant, prefix and cursor, and the cursor's text form.</summary>
[TestClass]
public sealed class ModelListingFilterTests
{
    [TestMethod]
    public void APrefix_IsAPartitionKeyRange_UpToTheNextString()
    {
        Assert.AreEqual("demo~ab.", ModelListing.Successor("demo~ab-"));
        Assert.AreEqual("demo\u007f", ModelListing.Successor("demo~"));
        var filter = ModelListing.Filter(new ModelListQuery { Tenant = "demo", Prefix = "ab", State = ModelStates.Ready });
        Assert.AreEqual("PartitionKey ge 'demo~ab' and PartitionKey lt 'demo~ac' and RowKey lt '@' and State eq 'Ready'", filter);
    }

    [TestMethod]
    public void WithoutATenant_NoPrefix_AndNoUnknownState()
    {
        Assert.ThrowsExactly<ArgumentException>(() => ModelListing.Filter(new ModelListQuery { Prefix = "ab" }));
        Assert.ThrowsExactly<ArgumentException>(() => ModelListing.Filter(new ModelListQuery { Tenant = "demo", State = "Pending" }));
        Assert.ThrowsExactly<ArgumentException>(() => ModelListing.Filter(new ModelListQuery { Tenant = "demo", Prefix = "AB'" }));
        Assert.AreEqual("RowKey lt '@'", ModelListing.Filter(new ModelListQuery()));
    }

    [TestMethod]
    public void TheCursor_StartsStrictlyAfterTheLastRowShown()
    {
        var after = ModelListCursor.Parse("demo~m-1/3", null, out var error);
        Assert.IsNull(error);
        Assert.AreEqual(new ModelListCursor("demo~m-1", "3"), after);
        Assert.AreEqual("demo~m-1/3", after!.ToString());
        StringAssert.Contains(ModelListing.Filter(new ModelListQuery { After = after }), "(PartitionKey gt 'demo~m-1' or (PartitionKey eq 'demo~m-1' and RowKey gt '3'))");

        // A bare model name needs the tenant, and means after every version of it.
        Assert.IsNull(ModelListCursor.Parse("m-1", null, out error));
        Assert.IsNotNull(error);
        var bare = ModelListCursor.Parse("m-1", "demo", out _);
        Assert.AreEqual(new ModelListCursor("demo~m-1", null), bare);
        StringAssert.Contains(ModelListing.Filter(new ModelListQuery { Tenant = "demo", After = bare }), "PartitionKey gt 'demo~m-1'");
        Assert.IsNull(ModelListCursor.Parse("demo~M/x", null, out error));
    }
}
