namespace Serverless.Scoring;

/// <summary>A request's hold on a session: disposing it releases the reference.</summary>
public readonly struct SessionLease : IDisposable
{
    public SessionLease(ModelSession session, bool cacheHit)
    {
        Session = session;
        CacheHit = cacheHit;
    }

    public ModelSession Session { get; }

    /// <summary>True when the session was resident; false when this request waited for a load.</summary>
    public bool CacheHit { get; }

    public void Dispose() => Session?.Release();
}
