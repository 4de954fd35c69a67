using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Serverless.Core.Registry;

/// <summary>
/// A compact, read-only set of names: the 64-bit XxHash3 of each name (seeded per process, so nobody outside can aim
/// for a collision) in a sorted <c>ulong[]</c>, looked up by binary search. 8 bytes a name: 250,000 models are 2 MB.
/// A name not in the set is surely absent; a name in it is present but for a false positive rate of about n / 2^64
/// (10^-14 for 250,000 names), so junk names practically never get past it to storage.
/// </summary>
public sealed class ModelNameSet
{
    private readonly ulong[] _hashes;
    private readonly ulong _seed;

    private ModelNameSet(ulong[] hashes, ulong seed)
    {
        _hashes = hashes;
        _seed = seed;
    }

    /// <summary>How many distinct names the set holds.</summary>
    public int Count => _hashes.Length;

    /// <summary>The set's memory in bytes (its array), for the index's bound.</summary>
    public long Bytes => (long)_hashes.Length * sizeof(ulong);

    /// <summary>The hash a name is kept by, under <paramref name="seed"/>.</summary>
    public static ulong Hash(ReadOnlySpan<char> name, ulong seed) => XxHash3.HashToUInt64(MemoryMarshal.AsBytes(name), (long)seed);

    /// <summary>True when <paramref name="name"/> is (almost surely) in the set. No allocation.</summary>
    public bool Contains(ReadOnlySpan<char> name) => Array.BinarySearch(_hashes, Hash(name, _seed)) >= 0;

    /// <summary>The set of hashes gathered by a <see cref="Builder"/> (sorted, duplicates removed).</summary>
    public static ModelNameSet FromHashes(List<ulong> hashes, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(hashes);
        hashes.Sort();
        var count = 0;
        var sorted = CollectionsMarshal.AsSpan(hashes);
        for (var i = 0; i < sorted.Length; i++)
        {
            if (count == 0 || sorted[i] != sorted[count - 1])
            {
                sorted[count++] = sorted[i];
            }
        }

        return new ModelNameSet(sorted[..count].ToArray(), seed);
    }

    /// <summary>This set with <paramref name="names"/> added (this one when it has them all already).</summary>
    public ModelNameSet With(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        List<ulong>? added = null;
        foreach (var name in names)
        {
            var hash = Hash(name, _seed);
            if (Array.BinarySearch(_hashes, hash) < 0)
            {
                (added ??= new List<ulong>(_hashes.Length + names.Count)).Add(hash);
            }
        }

        if (added is null)
        {
            return this;
        }

        added.AddRange(_hashes);
        return FromHashes(added, _seed);
    }

    /// <summary>A set of the given names (tests, small sets).</summary>
    public static ModelNameSet Of(IEnumerable<string> names, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(names);
        var hashes = new List<ulong>();
        foreach (var name in names)
        {
            hashes.Add(Hash(name, seed));
        }

        return FromHashes(hashes, seed);
    }
}
