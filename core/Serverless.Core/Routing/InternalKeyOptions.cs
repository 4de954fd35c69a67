using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;

namespace Serverless.Core.Routing;

/// <summary>
/// The key that proves a call to a shard comes from the platform itself (section <c>Internal</c>, setting
/// <c>Internal__ShardKey</c>): the router, the publisher and the CLI send it in
/// <see cref="ShardHeaders.InternalKey"/> on every call to a shard; a shard trusts
/// <see cref="ShardHeaders.Tenant"/> only when it matches. Bound by the router, the publisher and the shards
/// (the GPU app too) under the same name, locally and in Azure.
/// </summary>
public sealed class InternalKeyOptions : IValidatableObject
{
    public const string SectionName = "Internal";

    /// <summary>The shared secret; empty means none is configured (a shard then trusts the tenant header, with a warning at start).</summary>
    public string ShardKey { get; set; } = "";

    /// <summary>True when a key is configured.</summary>
    public bool IsConfigured => !string.IsNullOrEmpty(ShardKey);

    /// <summary>
    /// App Service puts the literal <c>@Microsoft.KeyVault(...)</c> text in the setting when it cannot resolve
    /// the reference (no access yet, secret missing). Every app would then "agree" on a key that is no secret,
    /// so an app with an unresolved reference refuses to start instead.
    /// </summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ShardKey.StartsWith("@Microsoft.KeyVault(", StringComparison.OrdinalIgnoreCase))
        {
            yield return new ValidationResult(
                "Internal__ShardKey is an unresolved Key Vault reference: the app's identity cannot read the secret yet (role assignment, secret name); see docs/deploy.md",
                [nameof(ShardKey)]);
        }
    }

    /// <summary>
    /// True when <paramref name="presented"/> is the configured key. Constant-time: both sides are hashed
    /// first, so neither the content nor the length of the key shows in the timing.
    /// </summary>
    public bool Matches(string? presented)
    {
        if (!IsConfigured || string.IsNullOrEmpty(presented))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)),
            SHA256.HashData(Encoding.UTF8.GetBytes(ShardKey)));
    }
}
