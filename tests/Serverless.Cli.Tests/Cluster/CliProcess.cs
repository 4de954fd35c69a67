using System.Diagnostics;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>Runs the real CLI (<c>Serverless.Cli.dll</c>) as a process, with its state folder at <c>home</c>.</summary>
internal static class CliProcess
{
    /// <summary>Exit code and stdout followed by stderr; fails the test past <paramref name="timeoutSeconds"/>.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string home, IReadOnlyList<string> args, int timeoutSeconds = 150)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Serverless.Cli.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["SERVERLESS_HOME"] = home;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Only the CLI process this test started, by its own handle; it stops its children on SIGTERM, not on kill.
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
