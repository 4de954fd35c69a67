using System.Text;
using Azure;
using Serverless.Core.Protocol;
using Serverless.Core.Serving;

namespace Serverless.Core.Tests.Serving;

/// <summary>The error model's one mapping to HTTP, and back from a shard's answer.</summary>
[TestClass]
public sealed class ServingErrorTests
{
    [TestMethod]
    [DataRow(ServingErrorCode.InvalidArgument, 400)]
    [DataRow(ServingErrorCode.Unauthenticated, 401)]
    [DataRow(ServingErrorCode.NotFound, 404)]
    [DataRow(ServingErrorCode.Conflict, 409)]
    [DataRow(ServingErrorCode.TooLarge, 413)]
    [DataRow(ServingErrorCode.RateLimited, 429)]
    [DataRow(ServingErrorCode.Unsupported, 501)]
    [DataRow(ServingErrorCode.ModelFailed, 500)]
    [DataRow(ServingErrorCode.Internal, 500)]
    [DataRow(ServingErrorCode.Unavailable, 503)]
    [DataRow(ServingErrorCode.DeadlineExceeded, 504)]
    public void EveryCode_HasItsStatus_AndTheStatusReadsBackToIt(ServingErrorCode code, int status)
    {
        Assert.AreEqual(status, HttpStatusMapping.ToStatus(code));
        // 500 is shared: a shard's 500 is its model failing (the only 500 a shard answers on purpose).
        var expected = code == ServingErrorCode.Internal ? ServingErrorCode.ModelFailed : code;
        Assert.AreEqual(expected, HttpStatusMapping.FromStatus(status));
    }

    [TestMethod]
    public void EveryCode_IsMapped()
    {
        foreach (var code in Enum.GetValues<ServingErrorCode>())
        {
            Assert.IsTrue(HttpStatusMapping.ToStatus(code) is >= 400 and < 600, $"{code} has an error status");
        }
    }

    [TestMethod]
    [DataRow(402, ServingErrorCode.InvalidArgument)]
    [DataRow(408, ServingErrorCode.DeadlineExceeded)]
    [DataRow(412, ServingErrorCode.Conflict)]
    [DataRow(502, ServingErrorCode.Internal)]
    public void StatusesNoCodeOwns_FallToTheNearest(int status, ServingErrorCode code) =>
        Assert.AreEqual(code, HttpStatusMapping.FromStatus(status));

    [TestMethod]
    public void Results_SucceedWith200_FailWithTheirCodesStatus()
    {
        Assert.AreEqual(200, HttpStatusMapping.ToStatus(ServingResult.Success([1])));
        Assert.AreEqual(404, HttpStatusMapping.ToStatus(ServingResult.Failure(ServingError.NotFound("model 'm' not found"))));
    }

    [TestMethod]
    public void RetryAfter_IsWholeSecondsRoundedUp_OnlyWhereAsked()
    {
        Assert.AreEqual(1, ServingError.Unavailable("away").RetryAfterSeconds);
        Assert.AreEqual(3, ServingError.RateLimited("over", TimeSpan.FromMilliseconds(2100)).RetryAfterSeconds);
        Assert.AreEqual(1, ServingError.RateLimited("over", TimeSpan.FromMilliseconds(10)).RetryAfterSeconds);
        Assert.IsNull(ServingError.InvalidArgument("bad").RetryAfterSeconds);
        Assert.AreEqual(1, new ServingException(ServingErrorCode.Unavailable, "away").Error.RetryAfterSeconds, "an outage thrown by code asks for the wait too");
    }

    [TestMethod]
    public void ReadError_TakesTheMessage_OrKeepsTheBodyAsText()
    {
        Assert.AreEqual("input 'x' is missing", JsonBodies.ReadError(JsonBodies.Error("input 'x' is missing")));
        Assert.AreEqual("first", JsonBodies.ReadError("""{"detail":{"a":[1,2]},"error":"first"}"""u8));
        Assert.AreEqual("upstream connect error", JsonBodies.ReadError("upstream connect error"u8));
        Assert.AreEqual("(no message)", JsonBodies.ReadError([]));
        Assert.AreEqual(1000, JsonBodies.ReadError(Encoding.UTF8.GetBytes(new string('x', 5000))).Length, "a long body is cut, not lost");
    }

    [TestMethod]
    public void ExceptionsReachingTheEdge_AreTheirErrors_OrAStorageOutage_OrLeftToTheHost()
    {
        var notFound = ServingError.NotFound("model 'm' not found");
        Assert.AreSame(notFound, ServingErrors.From(new ServingException(notFound), CancellationToken.None));
        Assert.AreEqual(ServingErrorCode.Unavailable, ServingErrors.From(new RequestFailedException(503, "server busy"), CancellationToken.None)?.Code);
        Assert.IsNull(ServingErrors.From(new RequestFailedException(403, "forbidden"), CancellationToken.None), "a real answer from storage is a bug of ours, not an outage");
        Assert.IsNull(ServingErrors.From(new InvalidOperationException("bug"), CancellationToken.None));
    }
}
