using Serverless.Core.Sharding;

namespace Serverless.Core.Tests.Sharding;

[TestClass]
public sealed class ShardDirectoryLiveTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [TestMethod]
    public void ShardsThatMissedThreeBeats_ArePassedOver()
    {
        var live = ShardDirectory.Live([Row("shard-00", 2), Row("shard-01", 16), Row("shard-02", 4, ShardStates.Draining)], Now);

        CollectionAssert.AreEqual(new[] { "shard-00" }, live.Select(s => s.Id).ToArray());
    }

    [TestMethod]
    public void EveryBeatStale_PanicMode_UsesTheActiveShardsBeatenRecently()
    {
        // Storage was away for a minute: no shard could beat. Not every shard died.
        var live = ShardDirectory.Live([Row("shard-01", 60), Row("shard-00", 70), Row("shard-02", 65, ShardStates.Draining), Row("shard-03", 3600)], Now);

        CollectionAssert.AreEqual(new[] { "shard-00", "shard-01" }, live.Select(s => s.Id).ToArray(), "Active rows within the panic window, sorted; not Draining, not long dead");
    }

    [TestMethod]
    public void NoRowsAtAll_IsNoShard()
    {
        Assert.AreEqual(0, ShardDirectory.Live([], Now).Count);
    }

    private static ShardEntity Row(string id, int secondsSinceBeat, string state = ShardStates.Active) => new()
    {
        PartitionKey = "cpu",
        RowKey = id,
        BaseUrl = "http://127.0.0.1:7001",
        State = state,
        LastHeartbeat = Now.AddSeconds(-secondsSinceBeat),
        HeartbeatSeconds = 5,
    };
}
