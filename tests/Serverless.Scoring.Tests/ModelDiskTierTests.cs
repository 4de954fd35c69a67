using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Serverless.Scoring;
using Serverless.Core.Sharding;

namespace Serverless.Scoring.Tests;

/// <summary>The disk tier gives back exactly what it kept, and nothing from a file that is not intact.</summary>
[TestClass]
public sealed class ModelDiskTierTests
{
    private ServiceProvider _services = null!;
    private string _folder = null!;

    [TestInitialize]
    public void Initialize()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _folder = Path.Combine(Path.GetTempPath(), "disk-tier-tests-" + Guid.NewGuid().ToString("N"));
    }

    [TestCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [TestMethod]
    public async Task AReadStampsTheFileWithTheClocksNow()
    {
        // Trimming evicts by last access: a read must stamp the time the tier is given, not the machine's.
        var time = new FakeTimeProvider(new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero));
        var tier = NewTier(time);
        var (sha, bytes) = Model(10_000);
        await tier.WriteAsync(sha, bytes, CancellationToken.None);
        time.Advance(TimeSpan.FromHours(3));

        Assert.IsNotNull(await tier.TryReadAsync(sha, CancellationToken.None));
        Assert.AreEqual(new DateTime(2031, 5, 6, 10, 8, 9, DateTimeKind.Utc), File.GetLastAccessTimeUtc(FileOf(sha)));
    }

    [TestMethod]
    public async Task WhatIsWrittenIsReadBack()
    {
        var tier = NewTier();
        var (sha, bytes) = Model(100_000);
        await tier.WriteAsync(sha, bytes, CancellationToken.None);

        CollectionAssert.AreEqual(bytes, await tier.TryReadAsync(sha, CancellationToken.None));
        Assert.AreEqual(bytes.Length + ModelDiskTier.ChecksumBytes, new FileInfo(FileOf(sha)).Length);
    }

    [TestMethod]
    public async Task AModelNeverWrittenIsNotThere()
    {
        var (sha, _) = Model(10);
        Assert.IsNull(await NewTier().TryReadAsync(sha, CancellationToken.None));
    }

    [TestMethod]
    [DataRow("flipped byte", DisplayName = "one byte of the model flipped")]
    [DataRow("truncated", DisplayName = "the file cut short")]
    [DataRow("no checksum", DisplayName = "a file of the older format (model bytes only)")]
    [DataRow("tiny", DisplayName = "a file shorter than a checksum")]
    public async Task ADamagedFileIsNotUsedAndIsDeleted(string damage)
    {
        var tier = NewTier();
        var (sha, bytes) = Model(50_000);
        await tier.WriteAsync(sha, bytes, CancellationToken.None);
        var file = FileOf(sha);
        var onDisk = await File.ReadAllBytesAsync(file);
        byte[] damaged = damage switch
        {
            "flipped byte" => Flip(onDisk, 12_345),
            "truncated" => onDisk[..^100],
            "no checksum" => bytes,
            _ => [1, 2, 3],
        };
        await File.WriteAllBytesAsync(file, damaged);

        Assert.IsNull(await tier.TryReadAsync(sha, CancellationToken.None), $"a file with {damage} was used");
        Assert.IsFalse(File.Exists(file), "the damaged file is deleted, so the next load rewrites it from Blob");
    }

    [TestMethod]
    public void TempFilesACrashLeftAreDeletedWhenTheTierStarts_RecentOnesAreKept()
    {
        // A write interrupted by a crash leaves its temp file behind; one still being written must survive.
        var time = new FakeTimeProvider(new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero));
        Directory.CreateDirectory(_folder);
        var stale = TempFile("stale", time.GetUtcNow() - ModelDiskTier.StaleTempAge - TimeSpan.FromSeconds(1));
        var fresh = TempFile("fresh", time.GetUtcNow() - TimeSpan.FromSeconds(30));
        var model = Path.Combine(_folder, new string('a', 64) + ".onnx");
        File.WriteAllBytes(model, [1, 2, 3]);
        File.SetLastWriteTimeUtc(model, time.GetUtcNow().UtcDateTime - TimeSpan.FromDays(1));

        _ = NewTier(time);

        Assert.IsFalse(File.Exists(stale), "a temp file older than the stale age is deleted at start");
        Assert.IsTrue(File.Exists(fresh), "a recent temp file may belong to a write in flight");
        Assert.IsTrue(File.Exists(model), "only temp files are removed, however old a model file is");
    }

    [TestMethod]
    public async Task ATrimmingPassDeletesTempFilesThatWentStaleSinceTheStart()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero));
        var tier = NewTier(time);
        var left = TempFile("left", time.GetUtcNow());
        time.Advance(ModelDiskTier.StaleTempAge + TimeSpan.FromMinutes(1));

        var (sha, bytes) = Model(1_000);
        await tier.WriteAsync(sha, bytes, CancellationToken.None);

        Assert.IsFalse(File.Exists(left), "the write's trimming pass deletes the crash-left temp file");
        CollectionAssert.AreEqual(bytes, await tier.TryReadAsync(sha, CancellationToken.None), "the write itself is untouched");
        Assert.AreEqual(0, Directory.GetFiles(_folder, "*.tmp").Length);
    }

    private string TempFile(string name, DateTimeOffset lastWrite)
    {
        // Named as WriteAsync names them: {sha}.onnx.{guid}.tmp.
        var file = Path.Combine(_folder, new string('b', 64) + ".onnx." + name + ".tmp");
        File.WriteAllBytes(file, [9, 9, 9]);
        File.SetLastWriteTimeUtc(file, lastWrite.UtcDateTime);
        return file;
    }

    private static byte[] Flip(byte[] bytes, int index)
    {
        var copy = (byte[])bytes.Clone();
        copy[index] ^= 0x10;
        return copy;
    }

    private string FileOf(string sha) => Path.Combine(_folder, sha + ".onnx");

    private static (string Sha256, byte[] Bytes) Model(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return (Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes);
    }

    private ModelDiskTier NewTier(TimeProvider? time = null) => new(
        Options.Create(new ShardOptions { Id = "shard-00", DiskTierPath = _folder, DiskTierBytes = 64 * 1024 * 1024 }),
        _services.GetRequiredService<IMeterFactory>(),
        time ?? TimeProvider.System,
        NullLogger<ModelDiskTier>.Instance);
}
