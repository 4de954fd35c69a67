using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Serverless.Publishing;

/// <summary>
/// The pipe between the publisher and a validator child: a request is the model's name and version (each an int32
/// length and UTF-8) and its bytes (an int64 length and the bytes); an answer is an int32 length and a
/// <see cref="ModelValidationResult"/> as JSON. Little-endian throughout.
/// </summary>
internal static class ValidatorProtocol
{
    /// <summary>Answers larger than this are not the child's (a name, a reason, tensor lists).</summary>
    private const int MaxAnswerBytes = 16 << 20;

    public static async Task WriteRequestAsync(Stream to, byte[] model, string name, string version, CancellationToken cancellationToken)
    {
        var header = new byte[4 + Encoding.UTF8.GetByteCount(name) + 4 + Encoding.UTF8.GetByteCount(version) + 8];
        var at = WriteString(header, 0, name);
        at = WriteString(header, at, version);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(at), model.LongLength);
        await to.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        await to.WriteAsync(model, cancellationToken).ConfigureAwait(false);
        await to.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The next request, or null at the end of the input (the publisher closed the pipe). A model whose bytes do not
    /// fit in this process's heap limit is read past and comes back with a null <c>Model</c> and its length, so the
    /// pipe stays in step and the child lives on to answer.
    /// </summary>
    public static async Task<(string Name, string Version, byte[]? Model, long Length)?> ReadRequestAsync(Stream from, CancellationToken cancellationToken)
    {
        var name = await ReadStringAsync(from, cancellationToken).ConfigureAwait(false);
        if (name is null)
        {
            return null;
        }

        var version = await ReadStringAsync(from, cancellationToken).ConfigureAwait(false) ?? throw new EndOfStreamException("the request ended after the model's name");
        var lengthBytes = new byte[8];
        await from.ReadExactlyAsync(lengthBytes, cancellationToken).ConfigureAwait(false);
        var length = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
        if (length < 0 || length > Array.MaxLength)
        {
            throw new InvalidDataException($"the request claims a model of {length} bytes");
        }

        byte[] model;
        try
        {
            model = new byte[length];
        }
        catch (OutOfMemoryException)
        {
            var skip = new byte[81920];
            for (var left = length; left > 0;)
            {
                var n = await from.ReadAsync(skip.AsMemory(0, (int)Math.Min(skip.Length, left)), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new EndOfStreamException("the request ended inside the model's bytes");
                }

                left -= n;
            }

            return (name, version, null, length);
        }

        await from.ReadExactlyAsync(model, cancellationToken).ConfigureAwait(false);
        return (name, version, model, length);
    }

    public static async Task WriteAnswerAsync(Stream to, ModelValidationResult result, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(result, ValidationJsonContext.Default.ModelValidationResult);
        var length = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, json.Length);
        await to.WriteAsync(length, cancellationToken).ConfigureAwait(false);
        await to.WriteAsync(json, cancellationToken).ConfigureAwait(false);
        await to.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The child's answer; null when the pipe ended first (the child died).</summary>
    public static async Task<ModelValidationResult?> ReadAnswerAsync(Stream from, CancellationToken cancellationToken)
    {
        var length = new byte[4];
        if (!await TryReadExactlyAsync(from, length, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var size = BinaryPrimitives.ReadInt32LittleEndian(length);
        if (size is < 0 or > MaxAnswerBytes)
        {
            throw new InvalidDataException($"the validator's answer claims {size} bytes");
        }

        var json = new byte[size];
        if (!await TryReadExactlyAsync(from, json, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return JsonSerializer.Deserialize(json, ValidationJsonContext.Default.ModelValidationResult);
    }

    private static int WriteString(byte[] into, int at, string value)
    {
        var written = Encoding.UTF8.GetBytes(value, into.AsSpan(at + 4));
        BinaryPrimitives.WriteInt32LittleEndian(into.AsSpan(at), written);
        return at + 4 + written;
    }

    private static async Task<string?> ReadStringAsync(Stream from, CancellationToken cancellationToken)
    {
        var length = new byte[4];
        if (!await TryReadExactlyAsync(from, length, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var size = BinaryPrimitives.ReadInt32LittleEndian(length);
        if (size is < 0 or > 4096)
        {
            throw new InvalidDataException($"a name in the request claims {size} bytes");
        }

        var bytes = new byte[size];
        await from.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Fills <paramref name="buffer"/>; false when the stream ends before its first byte or within it.</summary>
    private static async Task<bool> TryReadExactlyAsync(Stream from, byte[] buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await from.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }
}
