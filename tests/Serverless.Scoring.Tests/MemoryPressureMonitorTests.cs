using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Serverless.Scoring;
using Serverless.Core.Sharding;

namespace Serverless.Scoring.Tests;

[TestClass]
public sealed class MemoryPressureMonitorTests
{
    [TestMethod]
    public void OverTheLimit_IsPressure_AndTheReadingIsSampledNotReadPerCall()
    {
        var time = new FakeTimeProvider();
        long resident = 900;
        var reads = 0;
        var monitor = new MemoryPressureMonitor(Options.Create(new ShardOptions { MemoryLimitBytes = 1000 }), time, () =>
        {
            reads++;
            return resident;
        });

        Assert.IsFalse(monitor.IsUnderPressure());
        resident = 1100;
        Assert.IsFalse(monitor.IsUnderPressure(), "the sample is still the old one");
        Assert.AreEqual(1, reads);

        time.Advance(MemoryPressureMonitor.SampleInterval);
        Assert.IsTrue(monitor.IsUnderPressure());
        Assert.AreEqual(1100, monitor.ResidentBytes);
        Assert.AreEqual(2, reads);
    }

    [TestMethod]
    public void NoLimitSet_UsesMostOfWhatTheRuntimeMayUse()
    {
        var monitor = new MemoryPressureMonitor(Options.Create(new ShardOptions()), TimeProvider.System);

        Assert.AreEqual((long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * 0.9), monitor.LimitBytes);
        Assert.IsFalse(monitor.IsUnderPressure(), "a test process is far under 90% of the machine");
    }
}
