using Serverless.Core.Protocol;
using Serverless.Core.Serving;

namespace Serverless.Core.Tests.Protocol;

[TestClass]
public sealed class BodyMemoryBudgetTests
{
    private const long Mi = 1024 * 1024;

    [TestMethod]
    public async Task ADeclaredLength_IsHeldUntilTheAccountIsDisposed()
    {
        var budget = new BodyMemoryBudget(64 * Mi, "Router__InFlightBodyBytes");
        using (var account = budget.Open())
        {
            var body = await RequestBody.ReadAsync(new MemoryStream(new byte[3 * Mi]), 3 * Mi, 32 * Mi, account, CancellationToken.None);
            Assert.AreEqual(3 * Mi, body.Length);
            Assert.IsTrue(budget.InFlightBytes >= 3 * Mi, $"{budget.InFlightBytes} held for a 3 MiB body");
        }

        Assert.AreEqual(0, budget.InFlightBytes);
    }

    [TestMethod]
    public async Task ABodyOverTheInFlightBudget_Is503NamingTheSetting_AndTakesNothing()
    {
        var budget = new BodyMemoryBudget(10 * Mi, "Router__InFlightBodyBytes");
        using var first = budget.Open();
        await RequestBody.ReadAsync(new MemoryStream(new byte[6 * Mi]), 6 * Mi, 32 * Mi, first, CancellationToken.None);
        var held = budget.InFlightBytes;

        using var second = budget.Open();
        var refused = await Assert.ThrowsExactlyAsync<ServingException>(() =>
            RequestBody.ReadAsync(new MemoryStream(new byte[6 * Mi]), 6 * Mi, 32 * Mi, second, CancellationToken.None));
        Assert.AreEqual(ServingErrorCode.Unavailable, refused.Code);
        StringAssert.Contains(refused.Message, "Router__InFlightBodyBytes");
        Assert.IsNotNull(refused.Error.RetryAfter, "a 503 the client may retry");
        Assert.AreEqual(held, budget.InFlightBytes, "the refused body holds nothing");
    }

    [TestMethod]
    public async Task AChunkedBody_IsCountedAsItGrows_AndRefusedAtTheBudget_NotAtItsEnd()
    {
        // No Content-Length: a stream of 40 MiB against a 32 MiB per-body limit and a 16 MiB budget.
        var budget = new BodyMemoryBudget(16 * Mi, "Router__InFlightBodyBytes");
        var stream = new CountingStream(40 * Mi);
        using var account = budget.Open();
        var refused = await Assert.ThrowsExactlyAsync<ServingException>(() => RequestBody.ReadAsync(stream, null, 32 * Mi, account, CancellationToken.None));
        Assert.AreEqual(ServingErrorCode.Unavailable, refused.Code);
        Assert.IsTrue(stream.BytesRead < 16 * Mi, $"{stream.BytesRead} bytes read before the refusal");
        Assert.IsTrue(account.HeldBytes <= 16 * Mi);
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task APooledBody_HoldsExactlyTheBytesSent(bool declared)
    {
        var sent = new byte[300_001];
        new Random(7).NextBytes(sent);
        var budget = new BodyMemoryBudget(64 * Mi, "Router__InFlightBodyBytes");
        using var account = budget.Open();
        // A stream that hands out at most 1,000 bytes a read, as a socket does, so a chunked body grows many times.
        var body = await RequestBody.ReadAsync(new TrickleStream(sent), declared ? sent.Length : null, 32 * Mi, account, CancellationToken.None);
        CollectionAssert.AreEqual(sent, body.ToArray());
        Assert.IsTrue(account.HeldBytes >= sent.Length && account.HeldBytes <= 4 * sent.Length, $"{account.HeldBytes} held");
    }

    [TestMethod]
    public async Task WithoutABudget_AChunkedBodyOverTheLimit_IsStill413()
    {
        var refused = await Assert.ThrowsExactlyAsync<ServingException>(() => RequestBody.ReadAsync(new CountingStream(40 * Mi), null, 32 * Mi, null, CancellationToken.None));
        Assert.AreEqual(ServingErrorCode.TooLarge, refused.Code);
    }

    /// <summary>A memory stream that returns at most 1,000 bytes a read.</summary>
    private sealed class TrickleStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1000));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, 1000)], cancellationToken);
    }

    /// <summary>A read-only stream of <c>length</c> zero bytes, counting what was read.</summary>
    private sealed class CountingStream(long length) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - BytesRead);
            Array.Clear(buffer, offset, n);
            BytesRead += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
