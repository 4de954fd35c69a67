using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Serverless.Core.Tenancy;

/// <summary>
/// The API keys this process verified recently, in front of <see cref="TenantStore.AuthenticateAsync"/>.
/// Verifying a key parses it, checks the tenant name's form, finds the cached row, decodes its hash
/// records and hashes the secret: microseconds and several allocations on every request. A key verified in
/// the last <see cref="Lifetime"/> is instead compared with the secret remembered for its tenant, in
/// constant time (no early exit on the first differing character), and costs no allocation.
/// Only keys the store accepted are remembered, at most <see cref="SecretsPerTenant"/> per tenant (a rotation
/// briefly has two in use), so the memory is bounded by the tenants with valid keys, and a flood of bad keys
/// goes to the store as before. A revoked key stops working at most <see cref="Lifetime"/> later than the
/// store alone would stop it (its own row cache: 15 s).
/// </summary>
public sealed class VerifiedApiKeys
{
    /// <summary>How long a verified key is trusted without asking the store again.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    /// <summary>Secrets remembered per tenant.</summary>
    public const int SecretsPerTenant = 2;

    private readonly Func<string?, CancellationToken, ValueTask<Tenant?>> _verify;
    private readonly TimeProvider _time;
    private readonly long _lifetimeTicks;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> _byName;

    public VerifiedApiKeys(TenantStore tenants, TimeProvider time)
        : this((tenants ?? throw new ArgumentNullException(nameof(tenants))).AuthenticateAsync, time)
    {
    }

    /// <summary>In front of any verifier (tests give their own): <paramref name="verify"/> answers what this does not remember.</summary>
    public VerifiedApiKeys(Func<string?, CancellationToken, ValueTask<Tenant?>> verify, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(verify);
        ArgumentNullException.ThrowIfNull(time);
        _verify = verify;
        _time = time;
        _lifetimeTicks = (long)(Lifetime.TotalSeconds * time.TimestampFrequency);
        _byName = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The tenant of an API key, or null; as <see cref="TenantStore.AuthenticateAsync"/>, remembered briefly.</summary>
    public ValueTask<Tenant?> AuthenticateAsync(string? apiKey, CancellationToken cancellationToken)
    {
        if (apiKey is not null)
        {
            var dot = apiKey.IndexOf('.', StringComparison.Ordinal);
            if (dot > 0
                && _byName.TryGetValue(apiKey.AsSpan(0, dot), out var entry)
                && _time.GetTimestamp() < entry.ExpiresAt
                && entry.Matches(apiKey.AsSpan(dot + 1)))
            {
                return ValueTask.FromResult<Tenant?>(entry.Tenant);
            }
        }

        return VerifyAsync(apiKey, cancellationToken);
    }

    private async ValueTask<Tenant?> VerifyAsync(string? apiKey, CancellationToken cancellationToken)
    {
        var tenant = await _verify(apiKey, cancellationToken).ConfigureAwait(false);
        if (tenant is not null && apiKey is not null)
        {
            Remember(tenant, apiKey[(apiKey.IndexOf('.', StringComparison.Ordinal) + 1)..]);
        }

        return tenant;
    }

    private void Remember(Tenant tenant, string secret)
    {
        var now = _time.GetTimestamp();
        var secrets = new List<string>(SecretsPerTenant) { secret };
        // Another key of the same tenant verified within the lifetime stays (both keys of a rotation in use),
        // but never past its own expiry: the new entry's lifetime restarts only for the secret just verified.
        if (_entries.TryGetValue(tenant.Name, out var previous) && now < previous.ExpiresAt && previous.Tenant == tenant)
        {
            foreach (var other in previous.Secrets)
            {
                if (secrets.Count < SecretsPerTenant && !string.Equals(other, secret, StringComparison.Ordinal))
                {
                    secrets.Add(other);
                }
            }

            // Keep the earlier expiry when the other secret is carried over, so no secret outlives Lifetime.
            _entries[tenant.Name] = new Entry(tenant, [.. secrets], secrets.Count > 1 ? previous.ExpiresAt : now + _lifetimeTicks);
            return;
        }

        _entries[tenant.Name] = new Entry(tenant, [secret], now + _lifetimeTicks);
    }

    private sealed class Entry
    {
        public Entry(Tenant tenant, string[] secrets, long expiresAt)
        {
            Tenant = tenant;
            Secrets = secrets;
            ExpiresAt = expiresAt;
        }

        public Tenant Tenant { get; }

        public string[] Secrets { get; }

        public long ExpiresAt { get; }

        /// <summary>True when <paramref name="secret"/> is one of the remembered secrets; every one is compared, in constant time.</summary>
        public bool Matches(ReadOnlySpan<char> secret)
        {
            var matched = false;
            foreach (var remembered in Secrets)
            {
                matched |= CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(remembered.AsSpan()), MemoryMarshal.AsBytes(secret));
            }

            return matched;
        }
    }
}
