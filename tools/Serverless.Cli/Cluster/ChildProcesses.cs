using System.Diagnostics;

namespace Serverless.Cli.Cluster;

/// <summary>
/// Starts the cluster's processes detached from this one (own session, output to a log file), so they
/// outlive <c>up --detach</c>, and stops them by process id — only processes this tool started.
/// </summary>
public static class ChildProcesses
{
    /// <summary>Starts <paramref name="fileName"/> with its output appended to <paramref name="logFile"/>; returns its pid.</summary>
    public static int Start(string fileName, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, string logFile, string? workingDirectory = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
        // setsid puts the program in a session of its own, so it outlives this tool and its terminal; it
        // may fork to do so, so the inner shell writes its own pid (which exec keeps) to a pid file.
        var pidFile = logFile + ".pid";
        File.Delete(pidFile);
        var start = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(
            "exec setsid /bin/sh -c 'echo $$ > \"$SERVERLESS_PIDFILE\"; exec \"$0\" \"$@\" >>\"$SERVERLESS_LOG\" 2>&1 </dev/null' \"$0\" \"$@\"");
        start.ArgumentList.Add(fileName);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        start.Environment["SERVERLESS_LOG"] = logFile;
        start.Environment["SERVERLESS_PIDFILE"] = pidFile;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            {
                return pid;
            }

            Thread.Sleep(10);
        }

        throw new InvalidOperationException($"could not start {fileName}: it wrote no pid file; see {logFile}");
    }

    /// <summary>True when the pid is alive and its command line carries <paramref name="marker"/> (so it is ours).</summary>
    public static bool IsOurs(int pid, string marker)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            return cmdline.Contains(marker, StringComparison.Ordinal) && !IsZombie(pid);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// True when a process started a moment ago has exited: gone or a zombie on three reads 20 ms apart. Its
    /// command line is not read here: while the starting shell execs the program, /proc/{pid}/cmdline can read
    /// empty, and on a loaded machine for longer than any fixed wait (an `up` saw Azurite "exit" while it was
    /// starting). The pid was written by our own shell a moment ago, so it cannot have been reused yet.
    /// </summary>
    public static bool HasExitedAtStart(int pid)
    {
        for (var read = 0; read < 3; read++)
        {
            if (Directory.Exists($"/proc/{pid}") && !IsZombie(pid))
            {
                return false;
            }

            Thread.Sleep(20);
        }

        return true;
    }

    /// <summary>Asks the process to stop (SIGTERM), then kills it if it has not stopped within the grace period.</summary>
    public static Task StopAsync(int pid, string marker, TimeSpan grace) => StopAsync(pid, marker, grace, "TERM");

    /// <summary>
    /// Asks the process to stop with <paramref name="signal"/> (<c>TERM</c>, <c>INT</c>), then kills it if it has not
    /// stopped within the grace period. (Azurite's table service saves its data on SIGINT only.)
    /// </summary>
    public static async Task StopAsync(int pid, string marker, TimeSpan grace, string signal)
    {
        if (!IsOurs(pid, marker))
        {
            return;
        }

        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false }))
        {
            if (kill is not null)
            {
                await kill.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        var deadline = DateTime.UtcNow + grace;
        while (DateTime.UtcNow < deadline && IsOurs(pid, marker))
        {
            await Task.Delay(100).ConfigureAwait(false);
        }

        if (IsOurs(pid, marker))
        {
            Kill(pid);
        }
    }

    /// <summary>Kills a process at once (SIGKILL), with its children.</summary>
    public static void Kill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (ArgumentException)
        {
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (IOException)
        {
            return true;
        }
    }
}
