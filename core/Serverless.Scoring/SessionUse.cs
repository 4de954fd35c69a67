namespace Serverless.Scoring;

/// <summary>Why a session is asked for: to serve a request, or to have it loaded ahead of requests.</summary>
public enum SessionUse
{
    /// <summary>A request will run on it.</summary>
    Request,

    /// <summary>
    /// A warm-up (prewarm at start, the v2 repository load before an alias moves): loaded but not used. Until a
    /// request uses it, it ranks below every used model for eviction, however recently it was loaded (as
    /// ModelMesh does), so warm-ups never push out models that callers are using.
    /// </summary>
    Warmup,
}
