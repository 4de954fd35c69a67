using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Sharding;

namespace Serverless.Core.Scoring;

/// <summary>
/// The local disk tier: bytes of models this instance has loaded, kept on its temp disk by SHA-256 so
/// reloading an evicted model skips Blob storage. Files are written atomically (temp + rename), checked
/// against their hash when read (a damaged file is deleted and the model comes from Blob), and the
/// folder is trimmed, least recently used first, to <see cref="ShardOptions.DiskTierBytes"/>.
/// </summary>
public sealed partial class ModelDiskTier
{
    private readonly string? _path;
    private readonly long _budget;
    private readonly ILogger<ModelDiskTier> _logger;
    private readonly Counter<long> _hits;
    private readonly SemaphoreSlim _trim = new(1, 1);

    public ModelDiskTier(IOptions<ShardOptions> options, IMeterFactory meterFactory, ILogger<ModelDiskTier> logger)
    {
        var o = options.Value;
        _budget = o.DiskTierBytes;
        _logger = logger;
        _path = _budget <= 0 ? null : (string.IsNullOrEmpty(o.DiskTierPath) ? Path.Combine(Path.GetTempPath(), "serverless-model-tier", o.Id) : o.DiskTierPath);
        _hits = meterFactory.Create("Serverless.Shard").CreateCounter<long>("serverless.disk_tier.hits");
        if (_path is not null)
        {
            Directory.CreateDirectory(_path);
        }
    }

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
            var bytes = await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
            if (!Convert.ToHexStringLower(SHA256.HashData(bytes)).Equals(sha256, StringComparison.Ordinal))
            {
                LogDamaged(file);
                File.Delete(file);
                return null;
            }

            File.SetLastAccessTimeUtc(file, DateTime.UtcNow);
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

    /// <summary>Keeps the bytes for a later reload; failures only cost the next reload a Blob download.</summary>
    public async Task WriteAsync(string sha256, byte[] bytes, CancellationToken cancellationToken)
    {
        if (_path is null || !IsHash(sha256) || bytes.LongLength > _budget)
        {
            return;
        }

        var file = Path.Combine(_path, sha256 + ".onnx");
        var temp = file + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            await File.WriteAllBytesAsync(temp, bytes, cancellationToken).ConfigureAwait(false);
            File.Move(temp, file, overwrite: true);
            await TrimAsync().ConfigureAwait(false);
        }
        catch (IOException e)
        {
            LogFailed(e, file);
            File.Delete(temp);
        }
    }

    private async Task TrimAsync()
    {
        if (!await _trim.WaitAsync(0).ConfigureAwait(false))
        {
            return;
        }

        try
        {
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

    private static bool IsHash(string value) => value.Length == 64 && value.All(char.IsAsciiHexDigitLower);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disk tier file {File} did not match its hash; deleted")]
    private partial void LogDamaged(string file);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disk tier file {File} could not be used")]
    private partial void LogFailed(Exception exception, string file);
}
