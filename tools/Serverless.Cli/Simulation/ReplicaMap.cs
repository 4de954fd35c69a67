namespace Serverless.Cli.Simulation;

/// <summary>Every model's replicas as shard indexes, primary first, in one flat array (no per-model arrays kept).</summary>
internal sealed class ReplicaMap
{
    private readonly int[] _offsets;
    private readonly int[] _shards;

    public ReplicaMap(int[] offsets, int[] shards)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(shards);
        _offsets = offsets;
        _shards = shards;
    }

    public int Models => _offsets.Length - 1;

    /// <summary>Model replicas over all models (the sum of every model's replica count).</summary>
    public int TotalReplicas => _shards.Length;

    public ReadOnlySpan<int> ReplicasOf(int model) => _shards.AsSpan(_offsets[model], _offsets[model + 1] - _offsets[model]);

    /// <summary>True when both hold the same set of shards for <paramref name="model"/> (order ignored).</summary>
    public static bool SameSet(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        foreach (var shard in a)
        {
            if (!b.Contains(shard))
            {
                return false;
            }
        }

        return true;
    }
}
