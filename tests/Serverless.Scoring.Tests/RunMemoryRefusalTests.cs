using Serverless.Core.Serving;
using Serverless.Scoring;

namespace Serverless.Scoring.Tests;

[TestClass]
public sealed class RunMemoryRefusalTests
{
    private const string Refused = "[ErrorCode:Fail] Non-zero status code returned while running ConstantOfShape node. Name:'ConstantOfShape_0' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:360 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*) Available memory of {0} is smaller than requested bytes of {1}";

    [TestMethod]
    public void ATensorLargerThanTheWholeArena_IsTheRequestsFault()
    {
        var error = RunMemoryRefusal.From(Failure(1000, 5000), "m", 4000);

        Assert.IsNotNull(error);
        Assert.AreEqual(ServingErrorCode.InvalidArgument, error.Code);
        Assert.AreEqual("model 'm' asked for a tensor of 5,000 bytes while running on this input, more than all runs on a shard may hold together (4,000 bytes, Ort__RunMemoryBytes)", error.Message);
    }

    [TestMethod]
    public void ATensorThatFitsOnceOtherRunsFinish_IsTheShardsLoad_WithRetryAfter()
    {
        var error = RunMemoryRefusal.From(Failure(1000, 3000), "m", 4000);

        Assert.IsNotNull(error);
        Assert.AreEqual(ServingErrorCode.Unavailable, error.Code);
        Assert.IsNotNull(error.RetryAfter);
        StringAssert.Contains(error.Message, "leave 1,000 of their 4,000 bytes (Ort__RunMemoryBytes); retry shortly");
    }

    [TestMethod]
    public void AModelFailingOtherwise_IsNotARefusal()
    {
        Assert.IsNull(RunMemoryRefusal.From("[ErrorCode:Fail] Non-zero status code returned while running Add node: axis 1 cannot broadcast", "m", 4000));
    }

    private static string Failure(long available, long requested) =>
        string.Format(System.Globalization.CultureInfo.InvariantCulture, Refused, available, requested);
}
