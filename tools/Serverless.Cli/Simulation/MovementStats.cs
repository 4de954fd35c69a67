namespace Serverless.Cli.Simulation;

/// <summary>
/// What moves when one shard is added or removed. A model moved when its replica set changed.
/// <see cref="Direct"/>: it gained the added shard, or lost the removed one. <see cref="WithinShuffleShard"/>:
/// the rest, which all belong to tenants whose shuffle shard changed (a shard left or joined it).
/// <see cref="Unexplained"/> counts moves that are neither: rendezvous hashing says it is zero.
/// </summary>
internal sealed record MovementStats(
    string Change,
    int ShardsBefore,
    int ShardsAfter,
    int Moved,
    double MovedShare,
    double MovedRpsShare,
    int Direct,
    int WithinShuffleShard,
    int Unexplained,
    int TenantsReshuffled,
    double? ExpectedShare);
