using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Serverless.Core.Tenancy;

/// <summary>
/// API keys have the form <c>{tenant}.{secret}</c>: the tenant part finds the row in one point read,
/// the 256-bit secret is what proves it. Only a salted SHA-256 of the secret is stored; a slow KDF buys
/// nothing for random 256-bit secrets and would cost every request. Comparison is constant-time.
/// </summary>
public static class ApiKeys
{
    private const int SecretBytes = 32;
    private const int SaltBytes = 16;

    /// <summary>Makes a new key for a tenant and the hash record to store.</summary>
    public static (string Key, string HashRecord) Create(string tenant)
    {
        var secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes));
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        return ($"{tenant}.{secret}", $"{Convert.ToHexStringLower(salt)}:{Convert.ToHexStringLower(Hash(salt, secret))}");
    }

    /// <summary>Splits a presented key into tenant and secret; false when it is not of our form.</summary>
    public static bool TryParse(string? key, out string tenant, out string secret)
    {
        tenant = secret = "";
        if (string.IsNullOrEmpty(key) || key.Length > 256)
        {
            return false;
        }

        var dot = key.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == key.Length - 1)
        {
            return false;
        }

        tenant = key[..dot];
        secret = key[(dot + 1)..];
        return true;
    }

    /// <summary>True when the secret matches one of the stored hash records.</summary>
    public static bool Verify(string secret, string hashRecords)
    {
        var matched = false;
        foreach (var record in hashRecords.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = record.IndexOf(':', StringComparison.Ordinal);
            byte[] salt, expected;
            try
            {
                salt = Convert.FromHexString(record.AsSpan(0, Math.Max(colon, 0)));
                expected = Convert.FromHexString(record.AsSpan(colon + 1));
            }
            catch (FormatException)
            {
                // A damaged record matches nothing; it must not turn a request into a 500.
                continue;
            }

            if (colon <= 0)
            {
                continue;
            }

            // No early exit: every record is checked so timing does not tell which one matched.
            matched |= CryptographicOperations.FixedTimeEquals(Hash(salt, secret), expected);
        }

        return matched;
    }

    private static byte[] Hash(byte[] salt, string secret)
    {
        var secretBytes = Encoding.UTF8.GetBytes(secret);
        var buffer = new byte[salt.Length + secretBytes.Length];
        salt.CopyTo(buffer, 0);
        secretBytes.CopyTo(buffer, salt.Length);
        return SHA256.HashData(buffer);
    }
}
