using System.Buffers;
using Serverless.Core.Serving;

namespace Serverless.Core.Protocol;

/// <summary>Reads a request body asynchronously, refusing one over the limit with a 413.</summary>
public static class RequestBody
{
    public const long DefaultLimitBytes = 32L * 1024 * 1024;

    public static Task<ReadOnlyMemory<byte>> ReadAsync(Stream body, long? contentLength, long limitBytes, CancellationToken cancellationToken) =>
        ReadAsync(body, contentLength, limitBytes, null, cancellationToken);

    /// <summary>
    /// As above, with the buffer counted in <paramref name="account"/> before it is allocated or grows (a declared
    /// length at once; a chunked body as it comes, each doubling of the buffer with its copy counted).
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>> ReadAsync(Stream body, long? contentLength, long limitBytes, BodyMemory? account, CancellationToken cancellationToken)
    {
        if (contentLength > limitBytes)
        {
            throw new ServingException(ServingErrorCode.TooLarge, $"request body of {contentLength} bytes is over the limit of {limitBytes} bytes");
        }

        var initial = (int)Math.Clamp(contentLength ?? 4096, 256, limitBytes);
        account?.EnsureHeld(initial);
        var buffer = new ArrayBufferWriter<byte>(initial);
        while (true)
        {
            if (buffer.WrittenCount == contentLength)
            {
                // The host ends a body at its Content-Length: done, without growing the exactly-sized buffer for a
                // last read that can only say so.
                return buffer.WrittenMemory;
            }

            if (account is not null && buffer.FreeCapacity < 8192)
            {
                // The writer doubles (at least) when it grows, and holds the old array while it copies.
                account.EnsureHeld(buffer.Capacity + Math.Max(buffer.Capacity * 2L, buffer.WrittenCount + 8192L));
            }

            var memory = buffer.GetMemory(8192);
            var read = await body.ReadAsync(memory, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer.WrittenMemory;
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > limitBytes)
            {
                throw new ServingException(ServingErrorCode.TooLarge, $"request body is over the limit of {limitBytes} bytes");
            }
        }
    }
}
