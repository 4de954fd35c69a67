using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Serverless.Core.Registry;
using Serverless.Routing;
using Serverless.Core.Serving;
using Serverless.Core.Sharding;

namespace Serverless.Routing.Tests;

/// <summary>
/// The router's forwarding step over a fake message handler (as YARP tests its forwarder): what reaches the shard,
/// what comes back, which replica is tried next and when, and what the caller is told when none answers.
/// </summary>
[TestClass]
public sealed class ShardForwarderTests
{
    private const string InternalKey = "a-long-random-internal-key-0123456789";
    private const string Sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"inputs":[]}""");
    private static readonly ShardInfo ShardA = new("shard-00", "cpu", new Uri("http://127.0.0.1:9100/"));
    private static readonly ShardInfo ShardB = new("shard-01", "cpu", new Uri("http://127.0.0.1:9101/"));

    private static readonly ModelVersionEntity Entry = new()
    {
        PartitionKey = "acme~m",
        RowKey = "3",
        Tenant = "acme",
        Model = "m",
        Version = "3",
        Sha256 = Sha256,
        State = ModelStates.Ready,
    };

    [TestMethod]
    public async Task Success_SendsTenantKeyHashAndBody_AndPassesTheShardsHeadersOn()
    {
        var handler = new FakeShards();
        handler.Answer(ShardA, _ =>
        {
            var answer = Json(HttpStatusCode.OK, """{"model_name":"m","outputs":[]}""");
            answer.Headers.TryAddWithoutValidation(ShardHeaders.ServedBy, "shard-00");
            answer.Headers.TryAddWithoutValidation(ShardHeaders.Cache, "miss");
            answer.Headers.TryAddWithoutValidation(ShardHeaders.LoadSource, "disk");
            answer.Headers.TryAddWithoutValidation(ShardHeaders.ModelVersion, "3");
            return answer;
        });

        var result = await Create(handler).ForwardAsync("acme", "m", Entry, [ShardA], Body, null, CancellationToken.None);

        Assert.IsTrue(result.IsSuccess, result.Error?.Message);
        Assert.AreEqual("""{"model_name":"m","outputs":[]}""", Encoding.UTF8.GetString(result.Body));
        Assert.AreEqual("shard-00", result.ServedBy);
        Assert.IsFalse(result.CacheHit);
        Assert.AreEqual("disk", result.LoadSource);
        Assert.AreEqual("3", result.ModelVersion);
        var sent = handler.Sent.Single();
        Assert.AreEqual(HttpMethod.Post, sent.Method);
        Assert.AreEqual("http://127.0.0.1:9100/v2/models/m/versions/3/infer", sent.Uri);
        Assert.AreEqual("acme", sent.Headers[ShardHeaders.Tenant]);
        Assert.AreEqual(InternalKey, sent.Headers[ShardHeaders.InternalKey]);
        Assert.AreEqual(Sha256, sent.Headers[ShardHeaders.ModelSha256]);
        Assert.AreEqual("application/json", sent.ContentType);
        CollectionAssert.AreEqual(Body, sent.Body);
    }

    [TestMethod]
    public async Task ShardErrorAnswer_BecomesTheErrorValue_AndIsNotRetried()
    {
        var handler = new FakeShards();
        handler.Answer(ShardA, _ => Json(HttpStatusCode.BadRequest, """{"error":"input 'x' has 3 elements, expected 4"}"""));
        handler.Answer(ShardB, _ => Json(HttpStatusCode.OK, "{}"));

        var result = await Create(handler, randomSeed: FirstIsA()).ForwardAsync("acme", "m", Entry, [ShardA, ShardB], Body, null, CancellationToken.None);

        Assert.AreEqual(ServingErrorCode.InvalidArgument, result.Error?.Code);
        Assert.AreEqual("input 'x' has 3 elements, expected 4", result.Error?.Message);
        Assert.AreEqual(1, handler.Sent.Count, "a request the shard refused is the caller's to fix, not another replica's to try");
    }

    [TestMethod]
    public async Task ShardRateLimited_KeepsItsRetryAfter()
    {
        var handler = new FakeShards();
        handler.Answer(ShardA, _ =>
        {
            var answer = Json(HttpStatusCode.TooManyRequests, """{"error":"model 'm' has 4 requests running"}""");
            answer.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(3));
            return answer;
        });

        var result = await Create(handler).ForwardAsync("acme", "m", Entry, [ShardA], Body, null, CancellationToken.None);

        Assert.AreEqual(ServingErrorCode.RateLimited, result.Error?.Code);
        Assert.AreEqual(3, result.Error?.RetryAfterSeconds);
        Assert.AreEqual(429, HttpStatusMapping.ToStatus(result));
    }

    [TestMethod]
    public async Task Replica503_NextReplicaServes()
    {
        var handler = new FakeShards();
        handler.Answer(ShardA, _ => Json(HttpStatusCode.ServiceUnavailable, """{"error":"under memory pressure"}"""));
        handler.Answer(ShardB, _ => Json(HttpStatusCode.OK, """{"ok":true}"""));

        var result = await Create(handler, randomSeed: FirstIsA()).ForwardAsync("acme", "m", Entry, [ShardA, ShardB], Body, null, CancellationToken.None);

        Assert.IsTrue(result.IsSuccess, result.Error?.Message);
        Assert.AreEqual("shard-01", result.ServedBy, "the shard named none: the replica that answered");
        CollectionAssert.AreEqual(new[] { "shard-00", "shard-01" }, handler.Sent.Select(s => s.Shard).ToArray());
    }

    [TestMethod]
    public async Task ConnectionRefused_EjectsTheShard_AndRetriesWithoutTheBudget()
    {
        var handler = new FakeShards();
        handler.Answer(ShardA, _ => throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused"));
        handler.Answer(ShardB, _ => Json(HttpStatusCode.OK, "{}"));
        var time = new FakeTimeProvider();
        var selector = new ReplicaSelector(time, new Random(FirstIsA()));
        var budget = new RetryBudget(time);
        while (budget.TryWithdraw())
        {
            // Spend the reserve: a retry that needs the budget would now be refused.
        }

        var forwarder = Create(handler, selector, budget);
        var result = await forwarder.ForwardAsync("acme", "m", Entry, [ShardA, ShardB], Body, null, CancellationToken.None);

        Assert.IsTrue(result.IsSuccess, result.Error?.Message);
        Assert.IsTrue(selector.IsEjected("shard-00"), "a shard that refused the connection goes last for a while");
        time.Advance(ReplicaSelector.EjectionTime + TimeSpan.FromMilliseconds(1));
        Assert.IsFalse(selector.IsEjected("shard-00"), "and comes back after the ejection time");
    }

    [TestMethod]
    public async Task ReachedShardFailed_RetryBudgetSpent_Answers503SayingSo()
    {
        var handler = new FakeShards();
        handler.Answer(ShardA, _ => throw new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely"));
        handler.Answer(ShardB, _ => Json(HttpStatusCode.OK, "{}"));
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(time);
        while (budget.TryWithdraw())
        {
        }

        var result = await Create(handler, new ReplicaSelector(time, new Random(FirstIsA())), budget).ForwardAsync("acme", "m", Entry, [ShardA, ShardB], Body, null, CancellationToken.None);

        Assert.AreEqual(ServingErrorCode.Unavailable, result.Error?.Code);
        StringAssert.Contains(result.Error!.Message, "retry budget is spent");
        Assert.IsNotNull(result.Error.RetryAfter);
        Assert.AreEqual(1, handler.Sent.Count, "a retry that adds load waits for the budget");
    }

    [TestMethod]
    public async Task BodyBreaksOff_CountsAsThatReplicaFailing()
    {
        var handler = new FakeShards();
        handler.Answer(ShardA, _ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new BrokenStream()) });
        handler.Answer(ShardB, _ => Json(HttpStatusCode.OK, """{"ok":true}"""));

        var result = await Create(handler, randomSeed: FirstIsA()).ForwardAsync("acme", "m", Entry, [ShardA, ShardB], Body, null, CancellationToken.None);

        Assert.IsTrue(result.IsSuccess, result.Error?.Message);
        Assert.AreEqual("""{"ok":true}""", Encoding.UTF8.GetString(result.Body));
    }

    [TestMethod]
    public async Task NoReplicaAnswers_Answers503NamingTheLastFailure()
    {
        var handler = new FakeShards();
        handler.Answer(ShardA, _ => Json(HttpStatusCode.ServiceUnavailable, """{"error":"busy"}"""));
        handler.Answer(ShardB, _ => Json(HttpStatusCode.ServiceUnavailable, """{"error":"busy"}"""));

        var result = await Create(handler).ForwardAsync("acme", "m", Entry, [ShardA, ShardB], Body, null, CancellationToken.None);

        Assert.AreEqual(ServingErrorCode.Unavailable, result.Error?.Code);
        StringAssert.Contains(result.Error!.Message, "2 tried");
        StringAssert.Contains(result.Error.Message, "answered 503: busy", "the shard's reason travels on");
        Assert.AreEqual(2, handler.Sent.Count);
    }

    [TestMethod]
    public async Task NoReplicas_Answers503NamingThePool()
    {
        var result = await Create(new FakeShards()).ForwardAsync("acme", "m", Entry, [], Body, null, CancellationToken.None);

        Assert.AreEqual(ServingErrorCode.Unavailable, result.Error?.Code);
        StringAssert.Contains(result.Error!.Message, "pool 'cpu'");
    }

    [TestMethod]
    public async Task ForwardTimeout_ReplicaTooSlow_NextReplicaServes()
    {
        var handler = new FakeShards();
        handler.AnswerAsync(ShardA, async (_, ct) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return Json(HttpStatusCode.OK, "{}");
        });
        handler.Answer(ShardB, _ => Json(HttpStatusCode.OK, """{"ok":true}"""));

        var result = await Create(handler, randomSeed: FirstIsA()).ForwardAsync("acme", "m", Entry, [ShardA, ShardB], Body, TimeSpan.FromMilliseconds(50), CancellationToken.None);

        Assert.IsTrue(result.IsSuccess, result.Error?.Message);
        Assert.AreEqual("shard-01", result.ServedBy);
    }

    [TestMethod]
    public async Task CallerGivesUp_IsNotTakenForTheReplicasFailure()
    {
        var handler = new FakeShards();
        handler.AnswerAsync(ShardA, async (_, ct) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return Json(HttpStatusCode.OK, "{}");
        });
        handler.Answer(ShardB, _ => Json(HttpStatusCode.OK, "{}"));
        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAsync<OperationCanceledException>(() => Create(handler, randomSeed: FirstIsA()).ForwardAsync("acme", "m", Entry, [ShardA, ShardB], Body, null, deadline.Token));
        Assert.AreEqual(1, handler.Sent.Count, "the deadline is the caller's answer (504), not a reason to try another replica");
    }

    [TestMethod]
    public void ReplicaSelector_PowerOfTwoChoices_PrefersTheLessLoaded_AndPutsEjectedLast()
    {
        var time = new FakeTimeProvider();
        var selector = new ReplicaSelector(time, new Random(7));
        string[] ids = ["shard-00", "shard-01"];
        using (selector.Track("shard-00"))
        using (selector.Track("shard-00"))
        {
            // With two replicas both are always the two choices: the one with fewer requests in flight goes first.
            for (var i = 0; i < 20; i++)
            {
                Assert.AreEqual(1, selector.Order(ids)[0]);
            }
        }

        Assert.AreEqual(0, selector.Outstanding("shard-00"), "a finished request is no longer outstanding");
        selector.Eject("shard-01");
        CollectionAssert.AreEqual(new[] { 0, 1 }, selector.Order(ids));
        Assert.AreEqual(0, selector.Order(["shard-01", "shard-02", "shard-03"])[^1], "the ejected replica goes last");
    }

    [TestMethod]
    public void ReplicaSelector_SeededRandomness_ChoosesTheSameFirstEveryTime()
    {
        string[] ids = ["shard-00", "shard-01", "shard-02", "shard-03"];
        var first = new ReplicaSelector(new FakeTimeProvider(), new Random(42)).ChooseFirst(ids);
        for (var i = 0; i < 5; i++)
        {
            Assert.AreEqual(first, new ReplicaSelector(new FakeTimeProvider(), new Random(42)).ChooseFirst(ids));
        }
    }

    [TestMethod]
    public void RetryBudget_AllowsRetriesAsAShareOfRequests_AndARefillingReserve()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(time);
        var reserve = 0;
        while (budget.TryWithdraw())
        {
            reserve++;
        }

        Assert.AreEqual(10, reserve, "a quiet router may still retry a few times");
        // 51, not 50: fifty deposits of 0.2 sum to a hair under 10 in floating point.
        for (var i = 0; i < 51; i++)
        {
            budget.Deposit();
        }

        var earned = 0;
        while (budget.TryWithdraw())
        {
            earned++;
        }

        Assert.AreEqual(10, earned, "each request earns 20% of a retry");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.IsTrue(budget.TryWithdraw(), "the reserve refills with time");
    }

    /// <summary>A seed whose first choice of two replicas, both idle, is the first one (index 0).</summary>
    private static int FirstIsA()
    {
        for (var seed = 0; ; seed++)
        {
            if (new ReplicaSelector(new FakeTimeProvider(), new Random(seed)).ChooseFirst(["a", "b"]) == 0)
            {
                return seed;
            }
        }
    }

    private static ShardForwarder Create(FakeShards handler, int randomSeed = 1)
    {
        var time = new FakeTimeProvider();
        return Create(handler, new ReplicaSelector(time, new Random(randomSeed)), new RetryBudget(time));
    }

    private static ShardForwarder Create(FakeShards handler, ReplicaSelector selector, RetryBudget budget) =>
        new(handler, selector, budget, Options.Create(new RouterOptions()), Options.Create(new InternalKeyOptions { ShardKey = InternalKey }), NullLogger<ShardForwarder>.Instance);

    private static HttpResponseMessage Json(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    private sealed record SentRequest(string Shard, HttpMethod Method, string Uri, Dictionary<string, string> Headers, string? ContentType, byte[] Body);

    /// <summary>Answers per shard (by port) and records what each request carried.</summary>
    private sealed class FakeShards : HttpMessageHandler
    {
        private readonly Dictionary<int, (string Id, Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Answer)> _answers = [];
        private readonly ConcurrentQueue<SentRequest> _sent = new();

        public IReadOnlyList<SentRequest> Sent => [.. _sent];

        public void Answer(ShardInfo shard, Func<HttpRequestMessage, HttpResponseMessage> answer) =>
            _answers[shard.BaseUrl.Port] = (shard.Id, (request, _) => Task.FromResult(answer(request)));

        public void AnswerAsync(ShardInfo shard, Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer) =>
            _answers[shard.BaseUrl.Port] = (shard.Id, answer);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var (id, answer) = _answers[request.RequestUri!.Port];
            var headers = request.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
            var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            _sent.Enqueue(new SentRequest(id, request.Method, request.RequestUri.ToString(), headers, request.Content?.Headers.ContentType?.MediaType, body));
            return await answer(request, cancellationToken);
        }
    }

    /// <summary>An answer body that breaks off, as when the shard dies while writing it.</summary>
    private sealed class BrokenStream : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => 0; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new IOException("connection reset by peer");

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<int>(new IOException("connection reset by peer"));

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
