using System.Buffers;
using Serverless.Core.Serving;

namespace Serverless.Core.Protocol;

/// <summary>Reads a request body asynchronously, refusing one over the limit with a 413.</summary>
public static class RequestBody
{
    public const long DefaultLimitBytes = 32L * 1024 * 1024;

    public static async Task<ReadOnlyMemory<byte>> ReadAsync(Stream body, long? contentLength, long limitBytes, CancellationToken cancellationToken)
    {
        if (contentLength > limitBytes)
        {
            throw new ServingException(ServingErrorCode.TooLarge, $"request body of {contentLength} bytes is over the limit of {limitBytes} bytes");
        }

        var buffer = new ArrayBufferWriter<byte>((int)Math.Clamp(contentLength ?? 4096, 256, limitBytes));
        while (true)
        {
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
