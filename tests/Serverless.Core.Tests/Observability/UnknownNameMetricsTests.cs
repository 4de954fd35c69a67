using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;
using Serverless.Core.Observability;
using Serverless.Core.Serving;

namespace Serverless.Core.Tests.Observability;

[TestClass]
public sealed class UnknownNameMetricsTests
{
    [TestMethod]
    public void TenThousandJunkNames_AreOneUnknownSeries_RealModelKeepsItsOwn()
    {
        using var factory = new TestMeterFactory();
        var window = new RequestWindow(new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20_000)));
        var metrics = new ServerlessMetrics(factory, window, new ConfigurationBuilder().Build());
        var models = new HashSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "serverless.requests")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "model")
                {
                    models.Add((string)tag.Value!);
                }
            }
        });
        listener.Start();

        var notFound = ServingResult.Failure(new ServingError(ServingErrorCode.NotFound, "model 'x' not found"));
        for (var i = 0; i < 10_000; i++)
        {
            metrics.Routed("acme", "junk-" + i.ToString(CultureInfo.InvariantCulture), notFound, Stopwatch.GetTimestamp());
        }

        metrics.Routed("acme", "real", ServingResult.Success([], "1"), Stopwatch.GetTimestamp());

        CollectionAssert.AreEquivalent(new[] { ServerlessMetrics.UnknownModel, "real" }, models.ToArray());
        Assert.AreEqual(2, window.KeyCount);
        Assert.AreEqual(10_000, window.Totals()[new RequestKey("acme", ServerlessMetrics.UnknownModel, "", 404)]);
    }

    [TestMethod]
    public void WindowKeys_AreBounded_CountsGoToOverflow()
    {
        var window = new RequestWindow(new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20_000)), maxKeys: 1_000);
        for (var i = 0; i < 10_000; i++)
        {
            window.Record("acme", "m" + i.ToString(CultureInfo.InvariantCulture), "shard-00", 200, 1);
        }

        Assert.IsTrue(window.KeyCount <= 1_001, $"{window.KeyCount} keys");
        long total = 0;
        foreach (var (_, n) in window.Totals())
        {
            total += n;
        }

        Assert.AreEqual(10_000, total, "no count lost");
        Assert.AreEqual(9_000, window.Totals()[new RequestKey("acme", RequestWindow.OverflowModel, "", 200)]);
        var snapshot = window.Snapshot(1);
        Assert.IsTrue(snapshot.Counts.Count <= 1_001, $"{snapshot.Counts.Count} keys in the window");
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}
