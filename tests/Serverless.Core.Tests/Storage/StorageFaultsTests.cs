using System.Reflection;
using Azure;
using Serverless.Core.Storage;

namespace Serverless.Core.Tests.Storage;

[TestClass]
public sealed class StorageFaultsTests
{
    [TestMethod]
    public void ThrownThroughReflection_IsClassifiedByWhatItWraps()
    {
        // The blob trigger invokes functions by reflection: an outage inside one must still read as an outage.
        Assert.IsTrue(StorageFaults.IsTransient(new TargetInvocationException(new RequestFailedException(503, "busy")), CancellationToken.None));
        Assert.IsTrue(StorageFaults.IsTransient(new TargetInvocationException(new AggregateException(new HttpRequestException("refused"))), CancellationToken.None));
        Assert.IsFalse(StorageFaults.IsTransient(new TargetInvocationException(new RequestFailedException(404, "gone")), CancellationToken.None));
        Assert.IsFalse(StorageFaults.IsTransient(new TargetInvocationException(null), CancellationToken.None), "nothing wrapped is no outage");
    }
}
