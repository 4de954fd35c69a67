using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;

namespace Serverless.Routing;

/// <summary>
/// The key that proves a call to a shard comes from the platform itself (section <c>Internal</c>, setting
/// <c>Internal__ShardKey</c>): the router, the publisher and the CLI send it in
/// <see cref="ShardHeaders.InternalKey"/> on every call to a shard; a shard trusts
/// <see cref="ShardHeaders.Tenant"/> only when it matches. Bound by the router, the publisher and the shards
/// (the GPU app too) under the same name, locally and in Azure. During a rotation a shard also accepts the
/// key before it (<c>Internal__PreviousShardKey</c>), so callers still on the old key keep working until they
/// restart (docs/deploy.md, "Rotating the internal key").
/// </summary>
public sealed class InternalKeyOptions : IValidatableObject
{
    public const string SectionName = "Internal";

    private const string KeyVaultReferencePrefix = "@Microsoft.KeyVault(";

    private KeyDigests? _digests;

    /// <summary>The shared secret; empty means none is configured (a shard then trusts the tenant header, with a warning at start).</summary>
    public string ShardKey { get; set; } = "";

    /// <summary>
    /// The key before <see cref="ShardKey"/>, still accepted by a shard while a rotation is under way; empty means
    /// none. Only ever accepted, never sent: callers always send <see cref="ShardKey"/>.
    /// </summary>
    public string PreviousShardKey { get; set; } = "";

    /// <summary>
    /// Development only: lets an app start without <see cref="ShardKey"/> (a shard then trusts the tenant header from
    /// any caller). Off by default, so an app missing its key fails closed: it refuses to start, naming the setting.
    /// <c>serverless up</c> always sets a key.
    /// </summary>
    public bool AllowMissingKey { get; set; }

    /// <summary>True when a key is configured.</summary>
    public bool IsConfigured => !string.IsNullOrEmpty(ShardKey);

    /// <summary>
    /// App Service puts the literal <c>@Microsoft.KeyVault(...)</c> text in the setting when it cannot resolve
    /// the reference (no access yet, secret missing). Every app would then "agree" on a key that is no secret,
    /// so an app with an unresolved reference refuses to start instead. A previous key without a current one
    /// is refused too: with no <see cref="ShardKey"/> a shard trusts the tenant header from anyone.
    /// </summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (IsUnresolvedReference(ShardKey))
        {
            yield return new ValidationResult(
                "Internal__ShardKey is an unresolved Key Vault reference: the app's identity cannot read the secret yet (role assignment, secret name); see docs/deploy.md",
                [nameof(ShardKey)]);
        }

        if (IsUnresolvedReference(PreviousShardKey))
        {
            yield return new ValidationResult(
                "Internal__PreviousShardKey is an unresolved Key Vault reference: the app's identity cannot read the secret yet (role assignment, secret name); see docs/deploy.md",
                [nameof(PreviousShardKey)]);
        }

        if (!IsConfigured && !AllowMissingKey)
        {
            yield return new ValidationResult(
                "Internal__ShardKey is not set: every app that sends or trusts the internal key (router, publisher, shards, GPU app) refuses to start without it, since a shard without one would trust the tenant header from any caller. Set the same key everywhere (in Azure the Key Vault secret internal-shard-key), or Internal__AllowMissingKey=true for development only",
                [nameof(ShardKey)]);
        }

        if (!IsConfigured && !string.IsNullOrEmpty(PreviousShardKey))
        {
            yield return new ValidationResult(
                "Internal__PreviousShardKey is set but Internal__ShardKey is empty: set the current key too (a shard without one trusts the tenant header from any caller)",
                [nameof(ShardKey), nameof(PreviousShardKey)]);
        }
    }

    /// <summary>
    /// True when <paramref name="presented"/> is the configured key or, when one is set, the previous key.
    /// Constant-time: all sides are hashed first and both keys are always compared, so neither the content nor
    /// the length of a key, nor which of the two matched (or whether a previous key is set), shows in the timing.
    /// An empty key never matches.
    /// </summary>
    public bool Matches(string? presented)
    {
        if (!IsConfigured || string.IsNullOrEmpty(presented))
        {
            return false;
        }

        // Per request on every shard: the configured keys' digests are computed once (KeyDigests), the presented
        // key is hashed into the stack, so a check is one SHA-256 and no allocation.
        var keys = Digests();
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        var length = Encoding.UTF8.GetMaxByteCount(presented.Length);
        Span<byte> utf8 = length <= 512 ? stackalloc byte[512] : new byte[length];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(presented, utf8)], digest);
        var current = CryptographicOperations.FixedTimeEquals(digest, keys.Current);
        var before = CryptographicOperations.FixedTimeEquals(digest, keys.Previous);

        // Non-short-circuiting operators: both comparisons always run and count.
        return current | (before & keys.HasPrevious);
    }

    private KeyDigests Digests()
    {
        var known = Volatile.Read(ref _digests);
        if (known is not null && ReferenceEquals(known.ShardKey, ShardKey) && ReferenceEquals(known.PreviousShardKey, PreviousShardKey ?? ""))
        {
            return known;
        }

        var computed = new KeyDigests(ShardKey, PreviousShardKey ?? "");
        Volatile.Write(ref _digests, computed);
        return computed;
    }

    private static bool IsUnresolvedReference(string? value) =>
        value?.StartsWith(KeyVaultReferencePrefix, StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The SHA-256 digests of the configured keys, for the keys they were computed from.</summary>
    private sealed class KeyDigests
    {
        public KeyDigests(string shardKey, string previousShardKey)
        {
            ShardKey = shardKey;
            PreviousShardKey = previousShardKey;
            Current = SHA256.HashData(Encoding.UTF8.GetBytes(shardKey));
            Previous = SHA256.HashData(Encoding.UTF8.GetBytes(previousShardKey));
            HasPrevious = previousShardKey.Length != 0;
        }

        public string ShardKey { get; }

        public string PreviousShardKey { get; }

        public byte[] Current { get; }

        public byte[] Previous { get; }

        public bool HasPrevious { get; }
    }
}
