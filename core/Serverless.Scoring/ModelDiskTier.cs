using System.Diagnostics.Metrics;
using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Sharding;

namespace Serverless.Scoring;

/// <summary>
/// The local disk tier: bytes of models this instance has loaded, kept on its temp disk under their SHA-256
/// so reloading an evicted model skips Blob storage. Files are written atomically (temp + rename) with an
/// 8-byte XxHash3 checksum after the model's bytes, checked when read (a damaged, truncated or older-format
/// file is deleted and the model comes from Blob), and the folder is trimmed, least recently used first, to
/// <see cref="ShardOptions.DiskTierBytes"/>. Temp files a crash left behind (older than <see cref="StaleTempAge"/>)
/// are deleted when the tier starts and on every trimming pass.
/// </summary>
/// <remarks>
/// The checksum guards against a damaged local file, not against an attacker who can write the instance's
/// disk. It is XxHash3 rather than the SHA-256 the file is named by because a reload is on a request's path:
/// for a 1 MiB model SHA-256 took 0.6 ms of a ~3 ms reload on this machine, XxHash3 0.1 ms.
/// </remarks>
public sealed partial class ModelDiskTier
{
    private readonly string? _path;
    private readonly long _budget;
    private readonly ILogger<ModelDiskTier> _logger;
    private readonly Counter<long> _hits;
    private readonly SemaphoreSlim _trim = new(1, 1);
    private readonly TimeProvider _time;

    public ModelDiskTier(IOptions<ShardOptions> options, IMeterFactory meterFactory, TimeProvider time, ILogger<ModelDiskTier> logger)
    {
        _time = time;
        var o = options.Value;
        _budget = o.DiskTierBytes;
        _logger = logger;
        _path = _budget <= 0 ? null : (string.IsNullOrEmpty(o.DiskTierPath) ? Path.Combine(Path.GetTempPath(), "serverless-model-tier", o.Id) : o.DiskTierPath);
        _hits = meterFactory.Create("Serverless.Shard").CreateCounter<long>("serverless.disk_tier.hits");
        if (_path is not null)
        {
            Directory.CreateDirectory(_path);
            // A process killed mid-write leaves its temp file; nothing else would ever remove it.
            DeleteStaleTempFiles();
        }
    }

    /// <summary>
    /// How old a temp file must be before it counts as left by a crash: a write finishes in seconds (one model's bytes
    /// to a local disk), so one this old has no writer any more, or one so stuck that its rename failing costs nothing.
    /// </summary>
    public static readonly TimeSpan StaleTempAge = TimeSpan.FromMinutes(10);

    public bool Enabled => _path is not null;

    /// <summary>The model's bytes from disk, or null when they are not there (or not intact).</summary>
    public async Task<byte[]?> TryReadAsync(string sha256, CancellationToken cancellationToken)
    {
        if (_path is null || !IsHash(sha256))
        {
            return null;
        }

        var file = Path.Combine(_path, sha256 + ".onnx");
        try
        {
            byte[]? bytes;
            using (var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.Asynchronous))
            {
                bytes = await ReadCheckedAsync(handle, cancellationToken).ConfigureAwait(false);
            }

            if (bytes is null)
            {
                LogDamaged(file);
                File.Delete(file);
                return null;
            }

            File.SetLastAccessTimeUtc(file, _time.GetUtcNow().UtcDateTime);
            _hits.Add(1);
            return bytes;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (IOException e)
        {
            LogFailed(e, file);
            return null;
        }
    }

    /// <summary>Keeps a model's bytes (best effort: a full or failing disk only costs a later Blob read).</summary>
    public async Task WriteAsync(string sha256, byte[] bytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (_path is null || !IsHash(sha256) || bytes.LongLength + ChecksumBytes > _budget)
        {
            return;
        }

        var file = Path.Combine(_path, sha256 + ".onnx");
        var temp = file + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            var checksum = new byte[ChecksumBytes];
            BinaryPrimitives.WriteUInt64LittleEndian(checksum, XxHash3.HashToUInt64(bytes));
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous, bytes.LongLength + ChecksumBytes))
            {
                await RandomAccess.WriteAsync(handle, bytes, 0, cancellationToken).ConfigureAwait(false);
                await RandomAccess.WriteAsync(handle, checksum, bytes.LongLength, cancellationToken).ConfigureAwait(false);
            }

            File.Move(temp, file, overwrite: true);
            await TrimAsync().ConfigureAwait(false);
        }
        catch (IOException e)
        {
            LogFailed(e, file);
            File.Delete(temp);
        }
    }

    /// <summary>Bytes of the checksum after a model's bytes in a tier file.</summary>
    public const int ChecksumBytes = sizeof(ulong);

    /// <summary>The model's bytes of a tier file whose checksum matches them, else null. No copy: the array is the model.</summary>
    private static async Task<byte[]?> ReadCheckedAsync(Microsoft.Win32.SafeHandles.SafeFileHandle handle, CancellationToken cancellationToken)
    {
        var length = RandomAccess.GetLength(handle);
        if (length <= ChecksumBytes || length - ChecksumBytes > Array.MaxLength)
        {
            return null;
        }

        var bytes = GC.AllocateUninitializedArray<byte>((int)(length - ChecksumBytes));
        var checksum = new byte[ChecksumBytes];
        if (await ReadFullyAsync(handle, bytes, 0, cancellationToken).ConfigureAwait(false) != bytes.Length
            || await ReadFullyAsync(handle, checksum, bytes.Length, cancellationToken).ConfigureAwait(false) != ChecksumBytes)
        {
            return null;
        }

        return BinaryPrimitives.ReadUInt64LittleEndian(checksum) == XxHash3.HashToUInt64(bytes) ? bytes : null;
    }

    private static async Task<int> ReadFullyAsync(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await RandomAccess.ReadAsync(handle, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    private async Task TrimAsync()
    {
        if (!await _trim.WaitAsync(0).ConfigureAwait(false))
        {
            return;
        }

        try
        {
            DeleteStaleTempFiles();
            var files = new DirectoryInfo(_path!).GetFiles("*.onnx");
            var total = files.Sum(f => f.Length);
            if (total <= _budget)
            {
                return;
            }

            foreach (var file in files.OrderBy(f => f.LastAccessTimeUtc))
            {
                if (total <= _budget)
                {
                    break;
                }

                total -= file.Length;
                file.Delete();
            }
        }
        finally
        {
            _trim.Release();
        }
    }

    /// <summary>Deletes the tier's temp files last written more than <see cref="StaleTempAge"/> ago (best effort).</summary>
    private void DeleteStaleTempFiles()
    {
        var before = _time.GetUtcNow().UtcDateTime - StaleTempAge;
        try
        {
            foreach (var file in new DirectoryInfo(_path!).EnumerateFiles("*.tmp"))
            {
                if (file.LastWriteTimeUtc < before)
                {
                    file.Delete();
                    LogStaleTempDeleted(file.FullName);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file gone meanwhile or not ours to delete: the next pass tries again.
            LogFailed(e, _path!);
        }
    }

    private static bool IsHash(string value) => value.Length == 64 && value.All(char.IsAsciiHexDigitLower);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disk tier file {File} did not match its checksum (damaged, truncated or an older format); deleted")]
    private partial void LogDamaged(string file);

    [LoggerMessage(Level = LogLevel.Information, Message = "Disk tier temp file {File} was left by an interrupted write; deleted")]
    private partial void LogStaleTempDeleted(string file);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disk tier file {File} could not be used")]
    private partial void LogFailed(Exception exception, string file);
}
