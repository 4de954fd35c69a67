using System.Diagnostics;
using Serverless.Scoring;

namespace Serverless.Scoring.Tests;

[TestClass]
public sealed class ModelTrafficTests
{
    [TestMethod]
    public void Snapshot_CountsRequestsAndSumsBusyTime_PerModel_ThenStartsAfresh()
    {
        var traffic = new ModelTraffic();
        traffic.Record("t", "a", Stopwatch.Frequency / 100);
        traffic.Record("t", "a", Stopwatch.Frequency / 100);
        traffic.Record("t", "b", 0);
        traffic.Record("u", "a", Stopwatch.Frequency);

        var first = traffic.TakeSnapshot();
        Assert.AreEqual(3, first.Count, "per tenant and model");
        Assert.AreEqual(2, first[("t", "a")].Requests);
        Assert.AreEqual(0.02, first[("t", "a")].BusySeconds, 1e-9);
        Assert.AreEqual(1, first[("t", "b")].Requests);
        Assert.AreEqual(0, first[("t", "b")].BusySeconds, "a request that never held a session (a load, a refusal) adds no busy time");
        Assert.AreEqual(1.0, first[("u", "a")].BusySeconds, 1e-9);

        Assert.AreEqual(0, traffic.TakeSnapshot().Count, "each look starts afresh");
    }

    [TestMethod]
    public void ConcurrentRecords_AreAllCounted()
    {
        var traffic = new ModelTraffic();
        Parallel.For(0, 10_000, _ => traffic.Record("t", "m", 3));
        var sample = traffic.TakeSnapshot()[("t", "m")];
        Assert.AreEqual(10_000, sample.Requests);
        Assert.AreEqual(30_000.0 / Stopwatch.Frequency, sample.BusySeconds, 1e-12);
    }
}
