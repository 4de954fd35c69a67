using System.IO.Hashing;
using System.Text;

namespace Serverless.Core.Placement;

/// <summary>
/// Highest-random-weight (rendezvous) hashing. Each (key, shard) pair gets a weight from a stable
/// 64-bit hash (XxHash64 of UTF-8, the same on every process and machine); a key's shards are the
/// ones with the highest weights. Adding or removing a shard moves only the keys whose top set
/// changes, about 1/N of them.
/// </summary>
public static class RendezvousPlacement
{
    /// <summary>The stable weight of a (key, shard) pair.</summary>
    public static ulong Weight(string key, string shardId)
    {
        var length = Encoding.UTF8.GetMaxByteCount(key.Length + shardId.Length + 1);
        Span<byte> buffer = length <= 512 ? stackalloc byte[512] : new byte[length];
        var written = Encoding.UTF8.GetBytes(key, buffer);
        buffer[written++] = 0;
        written += Encoding.UTF8.GetBytes(shardId, buffer[written..]);
        return XxHash64.HashToUInt64(buffer[..written]);
    }

    /// <summary>
    /// The <paramref name="count"/> shards with the highest weight for <paramref name="key"/>, highest first.
    /// Ties (vanishingly rare) break by shard id so every process agrees.
    /// </summary>
    public static string[] Top(string key, IReadOnlyList<string> shardIds, int count)
    {
        count = Math.Clamp(count, 0, shardIds.Count);
        var best = new string[count];
        var weights = new ulong[count];
        var filled = 0;
        for (var i = 0; i < shardIds.Count; i++)
        {
            var id = shardIds[i];
            var w = Weight(key, id);
            // Insertion into a small sorted array: count is k or R, a handful.
            var position = filled;
            while (position > 0 && Before(w, id, weights[position - 1], best[position - 1]))
            {
                position--;
            }

            if (position >= count)
            {
                continue;
            }

            var last = Math.Min(filled, count - 1);
            for (var j = last; j > position; j--)
            {
                best[j] = best[j - 1];
                weights[j] = weights[j - 1];
            }

            best[position] = id;
            weights[position] = w;
            filled = Math.Min(filled + 1, count);
        }

        return best;
    }

    /// <summary>The key of a tenant's shuffle shard.</summary>
    public static string TenantKey(string tenant) => "tenant:" + tenant;

    /// <summary>
    /// A model's replicas, primary first: the top <paramref name="replicas"/> shards by the model's weight
    /// inside the tenant's shuffle shard of <paramref name="shuffleShardSize"/> shards; when more replicas
    /// are asked for than the shuffle shard has, the rest come from the remaining shards by the same weight.
    /// </summary>
    public static string[] SelectReplicas(string tenant, string modelKey, IReadOnlyList<string> shardIds, int shuffleShardSize, int replicas)
    {
        replicas = Math.Clamp(replicas, 1, Math.Max(1, shardIds.Count));
        if (shardIds.Count == 0)
        {
            return [];
        }

        var shuffleShard = Top(TenantKey(tenant), shardIds, Math.Max(1, shuffleShardSize));
        var inside = Top(modelKey, shuffleShard, replicas);
        if (inside.Length >= replicas)
        {
            return inside;
        }

        var others = new List<string>(shardIds.Count);
        foreach (var id in shardIds)
        {
            if (Array.IndexOf(shuffleShard, id) < 0)
            {
                others.Add(id);
            }
        }

        var beyond = Top(modelKey, others, replicas - inside.Length);
        return [.. inside, .. beyond];
    }

    private static bool Before(ulong w, string id, ulong otherWeight, string otherId) =>
        w > otherWeight || (w == otherWeight && string.CompareOrdinal(id, otherId) < 0);
}
