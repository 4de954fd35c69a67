using Microsoft.Extensions.Time.Testing;
using Serverless.Core.Concurrency;

namespace Serverless.Core.Tests.Concurrency;

[TestClass]
public sealed class ReadBudgetTests
{
    [TestMethod]
    public void TenThousandTakes_InOneSecond_GetTheBudgetOnly_ThenItRefills()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-03T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var budget = new ReadBudget(time, 10);
        var granted = 0;
        for (var i = 0; i < 10_000; i++)
        {
            granted += budget.TryTake() ? 1 : 0;
        }

        Assert.AreEqual(10, granted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.IsTrue(budget.TryTake());
    }
}
