using System.Runtime.CompilerServices;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>
/// A dropped file's bytes whose end is reached only when every stream of its group has reached its own: two
/// deliveries given two of these read in lockstep, then race through the rest of the publish together.
/// </summary>
public sealed class RendezvousStream : MemoryStream
{
    private readonly StrongBox<int> _waiting;
    private readonly TaskCompletionSource _all;
    private bool _arrived;

    private RendezvousStream(byte[] bytes, StrongBox<int> waiting, TaskCompletionSource all)
        : base(bytes, writable: false)
    {
        _waiting = waiting;
        _all = all;
    }

    /// <summary>One stream per delivery, all of one group.</summary>
    public static RendezvousStream[] Group(params byte[][] contents)
    {
        var waiting = new StrongBox<int>(contents.Length);
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return [.. contents.Select(bytes => new RendezvousStream(bytes, waiting, all))];
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            if (!_arrived)
            {
                _arrived = true;
                if (Interlocked.Decrement(ref _waiting.Value) == 0)
                {
                    _all.TrySetResult();
                }
            }

            await _all.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }

        return read;
    }
}
