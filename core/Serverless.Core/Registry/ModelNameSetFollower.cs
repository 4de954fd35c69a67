using Microsoft.Extensions.Hosting;

namespace Serverless.Core.Registry;

/// <summary>
/// Keeps the held name sets (<see cref="ModelNameIndex"/>) up to date from the name feed every
/// <see cref="ModelNameIndex.CatchUpInterval"/>, whether or not requests come, so a set never falls behind the feed.
/// </summary>
public sealed class ModelNameSetFollower : BackgroundService
{
    private readonly ModelNameIndex _names;
    private readonly TimeProvider _time;

    public ModelNameSetFollower(ModelNameIndex names, TimeProvider time)
    {
        _names = names;
        _time = time;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ModelNameIndex.CatchUpInterval, _time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            // Failures are the storage's and are tried again on the next tick (CatchUpAsync catches them).
            await _names.CatchUpAsync(stoppingToken).ConfigureAwait(false);
        }
    }
}
