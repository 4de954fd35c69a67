using Serverless.Core.Concurrency;

namespace Serverless.Core.Tests.Concurrency;

[TestClass]
public sealed class CoalescingRunnerTests
{
    [TestMethod]
    public async Task CallersArrivingDuringARun_ShareOneNextRun_ThatStartsAfterTheFirstEnds()
    {
        var gates = new List<TaskCompletionSource>();
        var starts = 0;
        var runner = new CoalescingRunner<string>(_ =>
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (gates)
            {
                gates.Add(gate);
                starts++;
            }

            return gate.Task;
        }, StringComparer.Ordinal);

        var first = runner.RunAsync("t", CancellationToken.None);
        await WaitUntilAsync(() => Volatile.Read(ref starts) == 1);
        var during = new Task[20];
        for (var i = 0; i < during.Length; i++)
        {
            during[i] = runner.RunAsync("t", CancellationToken.None);
        }

        Assert.AreEqual(1, Volatile.Read(ref starts), "a second run started while the first was in flight");
        Complete(gates, 0);
        await first;
        Assert.IsFalse(during.Any(t => t.IsCompleted), "callers that arrived during the first run were let go by it, though it may have started before their change");
        await WaitUntilAsync(() => Volatile.Read(ref starts) == 2);
        Complete(gates, 1);
        await Task.WhenAll(during);
        Assert.AreEqual(2, Volatile.Read(ref starts), "twenty callers during one run cost one more run");
        Assert.AreEqual(0, runner.Count, "an idle key is not kept");
    }

    [TestMethod]
    public async Task OtherKeys_RunIndependently()
    {
        var started = new System.Collections.Concurrent.ConcurrentBag<string>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runner = new CoalescingRunner<string>(key =>
        {
            started.Add(key);
            return gate.Task;
        }, StringComparer.Ordinal);

        var a = runner.RunAsync("a", CancellationToken.None);
        var b = runner.RunAsync("b", CancellationToken.None);
        await WaitUntilAsync(() => started.Count == 2);
        gate.SetResult();
        await Task.WhenAll(a, b);
        CollectionAssert.AreEquivalent(new[] { "a", "b" }, started.ToArray());
    }

    [TestMethod]
    public async Task AFailedRun_FailsItsCallers_AndTheNextCallStartsAFreshRun()
    {
        var calls = 0;
        var runner = new CoalescingRunner<string>(_ => Interlocked.Increment(ref calls) == 1
            ? Task.FromException(new InvalidOperationException("storage said no"))
            : Task.CompletedTask, StringComparer.Ordinal);

        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => runner.RunAsync("t", CancellationToken.None));
        await runner.RunAsync("t", CancellationToken.None);
        Assert.AreEqual(2, calls);
    }

    [TestMethod]
    public async Task ACallerThatGivesUp_StopsWaiting_WithoutCancellingTheSharedRun()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runner = new CoalescingRunner<string>(_ => gate.Task, StringComparer.Ordinal);
        using var leaving = new CancellationTokenSource();
        var staying = runner.RunAsync("t", CancellationToken.None);
        var left = runner.RunAsync("t", leaving.Token);
        await leaving.CancelAsync();
        await Assert.ThrowsAsync<OperationCanceledException>(() => left);
        Assert.IsFalse(staying.IsCompleted);
        gate.SetResult();
        await staying;
    }

    private static void Complete(List<TaskCompletionSource> gates, int index)
    {
        lock (gates)
        {
            gates[index].SetResult();
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.IsTrue(condition(), "the condition did not hold within 5 s");
    }
}
