using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Serverless.Scoring;
using Serverless.Core.Sharding;
using Serverless.ModelBuilder;

namespace Serverless.Benchmarks;

/// <summary>The session cache's hit path: lease a resident session and release it.</summary>
[MemoryDiagnoser]
public class SessionCacheBenchmarks : IDisposable
{
    private const string Key = "demo~demo-linear/1/sha";
    private static readonly Func<CancellationToken, Task<ModelSession>> NeverLoads = _ => throw new InvalidOperationException("the benchmark's session must stay resident");
    private ServiceProvider _services = null!;
    private SessionCache _cache = null!;

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _cache = new SessionCache(Options.Create(new ShardOptions { Id = "shard-00", CacheBytes = 1L << 30 }), _services.GetRequiredService<IMeterFactory>());
        var session = new ModelSession("demo-linear", "1", SharedRuntime.Instance.CreateSession(DemoModels.Linear()), 100_000);
        using var first = _cache.AcquireAsync(Key, _ => Task.FromResult(session), CancellationToken.None).AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Description = "AcquireAsync hit + release")]
    public async Task<bool> AcquireHit()
    {
        using var lease = await _cache.AcquireAsync(Key, NeverLoads, CancellationToken.None).ConfigureAwait(false);
        return lease.CacheHit;
    }

    [GlobalCleanup]
    public void Cleanup() => Dispose();

    public void Dispose()
    {
        _cache?.Dispose();
        _services?.Dispose();
        GC.SuppressFinalize(this);
    }
}
