using Serverless.Core.Storage;

namespace Serverless.Core.Serving;

/// <summary>What an exception that escaped a service means for the caller, for the edges' one catch.</summary>
public static class ServingErrors
{
    /// <summary>The unreachable-storage answer for a fault no service turned into its own message.</summary>
    public static readonly ServingError StorageUnavailable = ServingError.Unavailable("storage is unreachable right now; retry shortly");

    /// <summary>
    /// The error <paramref name="exception"/> carries (<see cref="ServingException"/>), or 503 for a storage outage
    /// (<see cref="StorageFaults.IsTransient"/>); null for anything else, which is a bug and left to the host (500, logged).
    /// </summary>
    public static ServingError? From(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        ServingException serving => serving.Error,
        _ when StorageFaults.IsTransient(exception, cancellationToken) => StorageUnavailable,
        _ => null,
    };
}
