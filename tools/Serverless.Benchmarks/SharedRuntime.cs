using Serverless.Scoring;

namespace Serverless.Benchmarks;

/// <summary>The process's one ORT environment (global thread pools can only be set up once per process).</summary>
internal static class SharedRuntime
{
    private static readonly Lazy<OrtRuntime> Lazy = new(() => new OrtRuntime());

    public static OrtRuntime Instance => Lazy.Value;
}
