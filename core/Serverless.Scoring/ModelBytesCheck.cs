using System.Security.Cryptography;

namespace Serverless.Scoring;

/// <summary>
/// Whether a model's bytes as read from Blob are the bytes that were published: their SHA-256 against the one in the
/// version's registry row. Blob storage is writable by more than the publisher (an operator, a script, an attacker
/// with the account's key), and the blob's name only claims a hash; the row is what the publisher checked.
/// </summary>
public static class ModelBytesCheck
{
    /// <summary>
    /// True when <paramref name="bytes"/> hash to <paramref name="expectedSha256"/> (hex, either case);
    /// <paramref name="actualSha256"/> is their hash in lower-case hex, for the log line of a mismatch.
    /// </summary>
    public static bool Matches(ReadOnlySpan<byte> bytes, string expectedSha256, out string actualSha256)
    {
        ArgumentNullException.ThrowIfNull(expectedSha256);
        // One pass over the buffer the download filled, no copy of it; the digest lives on the stack.
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes, hash);
        actualSha256 = Convert.ToHexStringLower(hash);
        return string.Equals(actualSha256, expectedSha256, StringComparison.OrdinalIgnoreCase);
    }
}
