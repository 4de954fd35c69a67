using Serverless.Core.Concurrency;

namespace Serverless.Core.Tests.Concurrency;

[TestClass]
public sealed class SingleFlightTests
{
    [TestMethod]
    public async Task ConcurrentCallers_ShareOneExecution()
    {
        var flights = new SingleFlight<string, int>(StringComparer.Ordinal);
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;
        var callers = new Task<int>[32];
        var start = new Barrier(callers.Length);
        var threads = new Thread[callers.Length];
        for (var i = 0; i < callers.Length; i++)
        {
            var index = i;
            threads[i] = new Thread(() =>
            {
                start.SignalAndWait();
                callers[index] = flights.JoinOrStart("k", gate, (_, g) =>
                {
                    Interlocked.Increment(ref runs);
                    return g.Task;
                });
            });
            threads[i].Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        Assert.AreEqual(1, runs, "the work ran more than once");
        Assert.IsTrue(flights.IsRunning("k"));
        gate.SetResult(42);
        var results = await Task.WhenAll(callers);
        CollectionAssert.AreEqual(Enumerable.Repeat(42, callers.Length).ToArray(), results);
        Assert.IsFalse(flights.IsRunning("k"), "the key must be free once the work is done");
    }

    [TestMethod]
    public async Task Failure_ReachesEveryJoinedCaller_AndFreesTheKey()
    {
        var flights = new SingleFlight<string, int>();
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = flights.JoinOrStart("k", gate, static (_, g) => g.Task);
        var second = flights.JoinOrStart("k", gate, static (_, _) => throw new AssertFailedException("a joined caller's work must not run"));
        gate.SetException(new InvalidOperationException("boom"));

        var e1 = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => first);
        var e2 = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => second);
        Assert.AreSame(e1, e2, "both callers see the one failure");
        Assert.IsFalse(flights.IsRunning("k"));

        var again = await flights.JoinOrStart("k", 7, static (_, v) => Task.FromResult(v));
        Assert.AreEqual(7, again, "after a failure the next caller starts new work");
    }

    [TestMethod]
    public async Task WorkThrowingSynchronously_FailsItsCallers_AndFreesTheKey()
    {
        var flights = new SingleFlight<string, int>();
        var failed = flights.JoinOrStart<int>("k", 0, static (_, _) => throw new InvalidOperationException("sync"));
        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => failed);
        Assert.AreEqual(0, flights.Count);
    }

    [TestMethod]
    public async Task CallerGivingUp_DoesNotCancelTheSharedWork()
    {
        var flights = new SingleFlight<string, int>();
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var impatient = new CancellationTokenSource();
        var leaving = flights.JoinOrStart("k", gate, static (_, g) => g.Task).WaitAsync(impatient.Token);
        var staying = flights.JoinOrStart("k", gate, static (_, g) => g.Task);
        await impatient.CancelAsync();
        await Assert.ThrowsExactlyAsync<TaskCanceledException>(() => leaving);
        Assert.IsTrue(flights.IsRunning("k"), "the work goes on for the callers still waiting");

        gate.SetResult(5);
        Assert.AreEqual(5, await staying);
    }

    [TestMethod]
    public async Task Callers_AreCountedBeforeTheWorkStarts()
    {
        var flights = new SingleFlight<string, int>();
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var seenAtStart = -1;
        var flight = flights.JoinOrStart<CountingFlight, TaskCompletionSource<int>>("k", gate, (_, g, f) =>
        {
            seenAtStart = f.Waiting;
            return g.Task;
        });
        var joined = flights.JoinOrStart<CountingFlight, TaskCompletionSource<int>>("k", gate, static (_, _, _) => throw new AssertFailedException("must join"));

        Assert.AreSame(flight, joined);
        Assert.AreEqual(1, seenAtStart, "the starter is counted in before its work runs");
        Assert.AreEqual(2, flight.Waiting);
        Assert.AreEqual(1, flight.Leave());
        gate.SetResult(1);
        Assert.AreEqual(1, await joined.Task);
    }

    [TestMethod]
    public async Task TryStart_StartsOnlyWhenIdle_AndTryJoinNeverStarts()
    {
        var flights = new SingleFlight<string, int>();
        Assert.IsFalse(flights.TryJoin<CountingFlight>("k", out _), "nothing to join yet");
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var mine = new CountingFlight();
        Assert.IsTrue(flights.TryStart("k", mine, gate, static (_, g, _) => g.Task));
        Assert.IsFalse(flights.TryStart("k", new CountingFlight(), gate, static (_, _, _) => throw new AssertFailedException("must not start")));
        Assert.IsTrue(flights.TryJoin<CountingFlight>("k", out var joined));
        Assert.AreSame(mine, joined);

        gate.SetResult(3);
        Assert.AreEqual(3, await joined.Task);
        Assert.IsFalse(flights.TryJoin<CountingFlight>("k", out _), "done work is not joined");
    }

    [TestMethod]
    public async Task Keys_FlyIndependently()
    {
        var flights = new SingleFlight<string, string>(StringComparer.Ordinal);
        var gate = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = flights.JoinOrStart("a", gate, static (_, g) => g.Task);
        var other = await flights.JoinOrStart("b", 0, static (k, _) => Task.FromResult(k));
        Assert.AreEqual("b", other);
        Assert.IsFalse(slow.IsCompleted);
        gate.SetResult("a");
        Assert.AreEqual("a", await slow);
    }

    private sealed class CountingFlight : Flight<int>
    {
        public int Waiting => Callers;

        public int Leave() => CountOut();
    }
}
