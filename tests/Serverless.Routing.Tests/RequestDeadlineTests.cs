using Serverless.Core.Serving;
using Serverless.Routing;

namespace Serverless.Routing.Tests;

/// <summary>The router's deadline: the <c>x-request-timeout-ms</c> header can only lower it, and past it the answer is 504.</summary>
[TestClass]
public sealed class RequestDeadlineTests
{
    [TestMethod]
    [DataRow(null, null, DisplayName = "absent")]
    [DataRow("", null, DisplayName = "empty")]
    [DataRow("250", 250L, DisplayName = "lower than the router's")]
    [DataRow("0", 1L, DisplayName = "zero → 1 ms")]
    [DataRow("-5", 1L, DisplayName = "negative → 1 ms")]
    [DataRow("999999999", 30_000L, DisplayName = "higher → the router's own")]
    public void RequestTimeoutHeader_LowersTheDeadline_Clamped(string? header, long? expectedMs)
    {
        Assert.IsTrue(RouterService.TryParseRequestTimeout(header, TimeSpan.FromSeconds(30), out var timeout, out var error), error);
        Assert.AreEqual(expectedMs, timeout is { } t ? (long)t.TotalMilliseconds : null);
    }

    [TestMethod]
    [DataRow("soon")]
    [DataRow("1.5")]
    [DataRow("99999999999999999999999")]
    public void RequestTimeoutHeader_NotAWholeNumber_IsRefused(string header)
    {
        Assert.IsFalse(RouterService.TryParseRequestTimeout(header, TimeSpan.FromSeconds(30), out _, out var error));
        StringAssert.Contains(error, "x-request-timeout-ms");
    }

    [TestMethod]
    public void DeadlineAnswer_Is504_SayingDeadline()
    {
        var answer = RouterService.DeadlineExceeded(TimeSpan.FromMilliseconds(250), "m", "1");
        Assert.AreEqual(ServingErrorCode.DeadlineExceeded, answer.Error?.Code);
        Assert.AreEqual(504, HttpStatusMapping.ToStatus(answer));
        var text = answer.Error!.Message;
        StringAssert.Contains(text, "deadline of 250 ms");
    }
}
