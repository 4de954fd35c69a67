using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Serverless.Cli.Cluster;

/// <summary>
/// Azurite, the local Azure Storage emulator: installed from npm at a pinned version on first use
/// (into the tools folder, not globally), started on loopback ports with telemetry off.
/// </summary>
public static class Azurite
{
    /// <summary>The pinned version: the newest that declares support for Node 20 (see docs/decisions.md).</summary>
    public const string Version = "3.35.0";
    public const string AccountName = "devstoreaccount1";

    // Azurite's well-known development account key; it is public and only ever valid against the emulator.
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Where the pinned Azurite is installed: $SERVERLESS_TOOLS, else <c>.serverless/tools</c> in the repository.</summary>
    public static string ToolsDirectory()
    {
        var configured = Environment.GetEnvironmentVariable("SERVERLESS_TOOLS");
        if (!string.IsNullOrEmpty(configured))
        {
            return Path.GetFullPath(configured);
        }

        var root = StateDirectory.RepositoryRoot() ?? Environment.CurrentDirectory;
        return Path.Combine(root, ".serverless", "tools");
    }

    public static string MainScript(string toolsDirectory) =>
        Path.Combine(toolsDirectory, "azurite-" + Version, "node_modules", "azurite", "dist", "src", "azurite.js");

    /// <summary>Installs the pinned Azurite with npm unless it is already there.</summary>
    public static async Task EnsureInstalledAsync(string toolsDirectory, Action<string> log, CancellationToken cancellationToken)
    {
        var script = MainScript(toolsDirectory);
        if (File.Exists(script))
        {
            return;
        }

        var prefix = Path.Combine(toolsDirectory, "azurite-" + Version);
        Directory.CreateDirectory(prefix);
        // A lock file so two test runs or two `up`s do not install into the same folder at once.
        var lockPath = Path.Combine(toolsDirectory, "azurite-" + Version + ".lock");
        await using var installLock = await AcquireLockAsync(lockPath, cancellationToken).ConfigureAwait(false);
        if (File.Exists(script))
        {
            return;
        }

        log($"Installing Azurite {Version} from npm into {prefix} (first use only)…");
        var npm = new ProcessStartInfo("npm")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "install", "--prefix", prefix, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", $"azurite@{Version}" })
        {
            npm.ArgumentList.Add(arg);
        }

        using var process = Process.Start(npm) ?? throw new InvalidOperationException("could not start npm: is Node.js installed?");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0 || !File.Exists(script))
        {
            throw new InvalidOperationException($"npm install azurite@{Version} failed (exit {process.ExitCode}): {await stderr.ConfigureAwait(false)}{await stdout.ConfigureAwait(false)}");
        }
    }

    /// <summary>Starts Azurite (blob, queue, table) on free loopback ports; returns its pid and connection string once it answers.</summary>
    public static Task<(int Pid, string ConnectionString, int BlobPort)> StartAsync(string toolsDirectory, string? dataDirectory, string logFile, CancellationToken cancellationToken) =>
        StartAsync(toolsDirectory, dataDirectory, logFile, null, cancellationToken);

    /// <summary>
    /// Starts Azurite on the blob, queue and table ports of <paramref name="connectionString"/> when given (a
    /// restart the running apps reconnect to), else on free ones.
    /// </summary>
    public static async Task<(int Pid, string ConnectionString, int BlobPort)> StartAsync(string toolsDirectory, string? dataDirectory, string logFile, string? connectionString, CancellationToken cancellationToken)
    {
        // Three at once: picked one after another, a port released by the first pick could come back for the next
        // (seen: queue and table both given 33115, and Azurite exited with EADDRINUSE).
        var free = connectionString is null ? FreePorts(3) : null;
        var blobPort = free?[0] ?? PortOf(connectionString!, "BlobEndpoint");
        var queuePort = free?[1] ?? PortOf(connectionString!, "QueueEndpoint");
        var tablePort = free?[2] ?? PortOf(connectionString!, "TableEndpoint");
        var args = new List<string>
        {
            MainScript(toolsDirectory),
            "--blobHost", "127.0.0.1", "--blobPort", blobPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--queueHost", "127.0.0.1", "--queuePort", queuePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--tableHost", "127.0.0.1", "--tablePort", tablePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--skipApiVersionCheck", "--disableTelemetry", "--loose",
        };
        if (dataDirectory is null)
        {
            args.Add("--inMemoryPersistence");
        }
        else
        {
            Directory.CreateDirectory(dataDirectory);
            args.Add("--location");
            args.Add(dataDirectory);
        }

        var pid = ChildProcesses.Start("node", args, new Dictionary<string, string>(), logFile);
        await WaitForPortAsync(blobPort, pid, logFile, cancellationToken).ConfigureAwait(false);
        await WaitForPortAsync(tablePort, pid, logFile, cancellationToken).ConfigureAwait(false);
        var started =
            $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
            $"BlobEndpoint=http://127.0.0.1:{blobPort}/{AccountName};" +
            $"QueueEndpoint=http://127.0.0.1:{queuePort}/{AccountName};" +
            $"TableEndpoint=http://127.0.0.1:{tablePort}/{AccountName};";
        return (pid, started, blobPort);
    }

    /// <summary>The port of one endpoint (<c>BlobEndpoint=http://127.0.0.1:PORT/…</c>) of a connection string.</summary>
    public static int PortOf(string connectionString, string endpoint)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        foreach (var part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && part[..equals].Equals(endpoint, StringComparison.OrdinalIgnoreCase))
            {
                return new Uri(part[(equals + 1)..]).Port;
            }
        }

        throw new ArgumentException($"the connection string has no {endpoint}", nameof(connectionString));
    }

    /// <summary>A loopback port free at this moment.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary><paramref name="count"/> distinct loopback ports free at this moment (all held open while picked).</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = new TcpListener[count];
        try
        {
            var ports = new int[count];
            for (var i = 0; i < count; i++)
            {
                listeners[i] = new TcpListener(IPAddress.Loopback, 0);
                listeners[i].Start();
                ports[i] = ((IPEndPoint)listeners[i].LocalEndpoint).Port;
            }

            return ports;
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener?.Dispose();
            }
        }
    }

    private static async Task WaitForPortAsync(int port, int pid, string logFile, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                if (ChildProcesses.HasExitedAtStart(pid))
                {
                    throw new InvalidOperationException($"Azurite exited at start; see {logFile}");
                }

                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<FileStream> AcquireLockAsync(string path, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
