using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Serverless.Cli.Bench;

/// <summary>
/// What each kind of attack request got back: how many were sent, how many got the status the platform should
/// answer (400 for a shape bomb, 404 for a made-up name, …) and what the others got, so the report says what held.
/// </summary>
internal sealed class AttackTally
{
    private readonly ConcurrentDictionary<string, Kind> _kinds = new(StringComparer.Ordinal);

    /// <summary>Declares a kind and the status that means the platform held (in report order).</summary>
    public void Expect(string kind, int status) => _kinds.TryAdd(kind, new Kind(status, _kinds.Count));

    /// <summary>One answer (status 0: no answer, the connection failed or timed out).</summary>
    public void Record(string kind, int status)
    {
        var entry = _kinds[kind];
        Interlocked.Increment(ref entry.Sent);
        if (status == entry.Expected)
        {
            Interlocked.Increment(ref entry.AsExpected);
        }
        else
        {
            entry.Other.AddOrUpdate(status, 1, static (_, n) => n + 1);
        }
    }

    /// <summary>Every kind's answers so far, in report order (what the attacker process sends back).</summary>
    public IReadOnlyList<AttackKindCount> Snapshot() =>
        [.. _kinds.OrderBy(pair => pair.Value.Order).Select(pair => new AttackKindCount(
            pair.Key, pair.Value.Expected, Interlocked.Read(ref pair.Value.Sent), Interlocked.Read(ref pair.Value.AsExpected), new Dictionary<int, long>(pair.Value.Other)))];

    /// <summary>Adds another tally's answers of one kind (an attacker process's round) to this one's.</summary>
    public void Add(AttackKindCount count)
    {
        Expect(count.Kind, count.Expected);
        var entry = _kinds[count.Kind];
        Interlocked.Add(ref entry.Sent, count.Sent);
        Interlocked.Add(ref entry.AsExpected, count.AsExpected);
        foreach (var (status, n) in count.Other)
        {
            entry.Other.AddOrUpdate(status, n, (_, old) => old + n);
        }
    }

    public long Sent(string kind) => Interlocked.Read(ref _kinds[kind].Sent);

    public long AsExpected(string kind) => Interlocked.Read(ref _kinds[kind].AsExpected);

    /// <summary>Requests of every kind.</summary>
    public long Total => _kinds.Values.Sum(k => Interlocked.Read(ref k.Sent));

    /// <summary>Requests of every kind that did not get their expected status.</summary>
    public long Unexpected => _kinds.Values.Sum(k => Interlocked.Read(ref k.Sent) - Interlocked.Read(ref k.AsExpected));

    /// <summary>One line per kind: <c>shape bomb: 1,234 sent, 1,234 × 400</c>, plus what else came back.</summary>
    public IEnumerable<(string Kind, string Line)> Lines()
    {
        foreach (var (name, kind) in _kinds.OrderBy(pair => pair.Value.Order))
        {
            var line = new StringBuilder();
            line.Append(CultureInfo.InvariantCulture, $"{kind.Sent:N0} sent, {kind.AsExpected:N0} × {kind.Expected}");
            foreach (var (status, count) in kind.Other.OrderBy(pair => pair.Key))
            {
                line.Append(CultureInfo.InvariantCulture, $", {count:N0} × {(status == 0 ? "no answer" : status.ToString(CultureInfo.InvariantCulture))}");
            }

            yield return (name, line.ToString());
        }
    }

    private sealed class Kind
    {
        public Kind(int expected, int order)
        {
            Expected = expected;
            Order = order;
        }

        public int Expected { get; }

        public int Order { get; }

        public ConcurrentDictionary<int, long> Other { get; } = new();

        // Fields, not properties: counted with Interlocked.
        public long Sent;

        public long AsExpected;
    }
}
