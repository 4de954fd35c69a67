using System.Diagnostics;
using System.Text.Json;
using Serverless.Cli.Cluster;

namespace Serverless.Cli.Bench;

/// <summary>
/// The bench's side of <c>serverless bench-attack</c>: starts this CLI again as the attacker (<see cref="HostileAttack"/>),
/// waits until it attacks, and on <see cref="StopAsync"/> closes its standard input, which ends the attack, and reads
/// its report. Disposing kills the child (by its own process object) if it has not exited, so none outlives the bench.
/// </summary>
internal sealed class AttackerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _reportPath;

    private AttackerProcess(Process process, string reportPath)
    {
        _process = process;
        _reportPath = reportPath;
    }

    public static async Task<AttackerProcess> StartAsync(Uri router, string tenant, string key, string runId, CancellationToken cancellationToken)
    {
        var reportPath = Path.Combine(Path.GetTempPath(), $"serverless-attack-{runId}-{Environment.ProcessId}.json");
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // Run as `dotnet Serverless.Cli.dll` (how tools/serverless runs it) or as the apphost itself.
        if (string.Equals(Path.GetFileNameWithoutExtension(start.FileName), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(typeof(AttackerProcess).Assembly.Location);
        }

        foreach (var argument in new[] { "bench-attack", "--router", router.ToString(), "--tenant", tenant, "--key", key, "--run-id", runId, "--report", reportPath })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("the attacker process did not start");
        var attacker = new AttackerProcess(process, reportPath);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
            if (line != BenchAttackReady)
            {
                throw new InvalidOperationException($"the attacker process did not start attacking (it said: {line ?? "nothing"})");
            }
        }
        catch
        {
            await attacker.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return attacker;
    }

    /// <summary>The line the attacker prints once its attacks are under way.</summary>
    public const string BenchAttackReady = "attacking";

    /// <summary>Ends the attack (closes the child's input), waits for it to finish its answers, and returns what it saw.</summary>
    public async Task<AttackReport> StopAsync(CancellationToken cancellationToken)
    {
        _process.StandardInput.Close();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        if (_process.ExitCode != 0)
        {
            throw new InvalidOperationException($"the attacker process exited with {_process.ExitCode}");
        }

        await using var file = File.OpenRead(_reportPath);
        return await JsonSerializer.DeserializeAsync(file, CliJsonContext.Default.AttackReport, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("the attacker process wrote an empty report");
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
        File.Delete(_reportPath);
        return ValueTask.CompletedTask;
    }
}
