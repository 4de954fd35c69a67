namespace Serverless.Core.Sharding;

/// <summary>Whether this shard instance is ready for traffic: after its prewarm (or its prewarm budget).</summary>
public sealed class ShardReadiness
{
    private volatile bool _ready;
    private volatile string _detail = "starting";

    public bool IsReady => _ready;

    public string Detail => _detail;

    public void Report(string detail) => _detail = detail;

    public void MarkReady(string detail)
    {
        _detail = detail;
        _ready = true;
    }
}
