using System.Buffers;
using Serverless.Core.Serving;

namespace Serverless.Core.Protocol;

/// <summary>Reads a request body asynchronously, refusing one over the limit with a 413.</summary>
public static class RequestBody
{
    public const long DefaultLimitBytes = 32L * 1024 * 1024;

    public static Task<ReadOnlyMemory<byte>> ReadAsync(Stream body, long? contentLength, long limitBytes, CancellationToken cancellationToken) =>
        ReadUnpooledAsync(body, contentLength, limitBytes, cancellationToken);

    /// <summary>
    /// As above, the buffer rented from the shared pool and counted in <paramref name="account"/> before it is rented
    /// or grows (a declared length at once; a chunked body as it comes, the old and the new array both while it copies).
    /// The body lives in the account's array until the account is disposed: its caller must not use it after that.
    /// Pooled, a large body costs no fresh pages and no large-object garbage (the router, before, allocated ~4× a
    /// chunked body's size in doubling arrays, and under a flood of them its collections reached the other tenants' tail).
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>> ReadAsync(Stream body, long? contentLength, long limitBytes, BodyMemory? account, CancellationToken cancellationToken)
    {
        if (account is null)
        {
            return await ReadUnpooledAsync(body, contentLength, limitBytes, cancellationToken).ConfigureAwait(false);
        }

        if (contentLength > limitBytes)
        {
            throw new ServingException(ServingErrorCode.TooLarge, $"request body of {contentLength} bytes is over the limit of {limitBytes} bytes");
        }

        var buffer = account.Grow(0, (int)Math.Clamp(contentLength ?? 16 * 1024, 256, limitBytes));
        var written = 0;
        while (true)
        {
            if (written == contentLength)
            {
                return buffer.AsMemory(0, written);
            }

            if (buffer.Length - written < 8192 && contentLength is null)
            {
                // Room to read one byte past the limit, so a body over it is seen as such.
                buffer = account.Grow(written, (int)Math.Min(Math.Max(buffer.Length * 2L, written + 8192L), Math.Min(limitBytes + 8192L, Array.MaxLength)));
            }

            var read = await body.ReadAsync(buffer.AsMemory(written), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer.AsMemory(0, written);
            }

            written += read;
            if (written > limitBytes)
            {
                throw new ServingException(ServingErrorCode.TooLarge, $"request body is over the limit of {limitBytes} bytes");
            }
        }
    }

    private static async Task<ReadOnlyMemory<byte>> ReadUnpooledAsync(Stream body, long? contentLength, long limitBytes, CancellationToken cancellationToken)
    {
        if (contentLength > limitBytes)
        {
            throw new ServingException(ServingErrorCode.TooLarge, $"request body of {contentLength} bytes is over the limit of {limitBytes} bytes");
        }

        var buffer = new ArrayBufferWriter<byte>((int)Math.Clamp(contentLength ?? 4096, 256, limitBytes));
        while (true)
        {
            if (buffer.WrittenCount == contentLength)
            {
                // The host ends a body at its Content-Length: done, without growing the exactly-sized buffer for a
                // last read that can only say so.
                return buffer.WrittenMemory;
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
