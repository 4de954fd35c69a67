using System.Net.Sockets;
using Azure;

namespace Serverless.Core.Storage;

/// <summary>Tells a storage outage (worth riding out on what is already known) from an answer (worth passing on).</summary>
public static class StorageFaults
{
    /// <summary>
    /// True when <paramref name="exception"/> means storage could not be reached or answered with a server
    /// error: a transport failure (the SDK's status 0), 408, 429 or 5xx, a timeout, or the SDK's
    /// <see cref="AggregateException"/> after its retries ran out on such failures, or any of these as thrown through
    /// reflection (<see cref="System.Reflection.TargetInvocationException"/>, e.g. by a function invoker). False for a cancellation
    /// the caller asked for and for answers such as 404 or 412, which are the storage's real verdict.
    /// </summary>
    public static bool IsTransient(Exception exception, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case RequestFailedException failed:
                return failed.Status is 0 or 408 or 429 or >= 500;
            case AggregateException aggregate:
                foreach (var inner in aggregate.InnerExceptions)
                {
                    if (!IsTransient(inner, cancellationToken))
                    {
                        return false;
                    }
                }

                return aggregate.InnerExceptions.Count > 0;
            case System.Reflection.TargetInvocationException { InnerException: { } invoked }:
                return IsTransient(invoked, cancellationToken);
            case OperationCanceledException:
                // A timeout inside the SDK, not the caller giving up.
                return !cancellationToken.IsCancellationRequested;
            case HttpRequestException or SocketException or IOException or TimeoutException:
                return true;
            default:
                return false;
        }
    }
}
