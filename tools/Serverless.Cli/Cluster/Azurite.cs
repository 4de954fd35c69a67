using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Serverless.Cli.Cluster;

/// <summary>
/// Azurite, the local Azure Storage emulator: installed from npm at pinned versions on first use (into the tools
/// folder, not globally), its blob and table services started as two processes on loopback ports with telemetry off.
/// </summary>
/// <remarks>
/// Two processes, two versions, because Azurite keeps its metadata in LokiJS, which uses an index only for the
/// first property of a query: 3.35 looks blobs up by account first (a scan of every blob in the account, 7 ms a
/// call at 40,000 blobs), 3.37 fixed that (Azure/Azurite#2588) but looks table rows up by RowKey first, and the
/// registry's RowKeys (a version, <c>@latest</c>) are shared by every model (a scan of most of the table). So
/// blobs from 3.37 and tables from 3.35: both lookups stay flat in the fleet's size. Two Node processes also give
/// storage two threads instead of one. docs/architecture.md ("The storage emulator").
/// </remarks>
public static class Azurite
{
    /// <summary>The version whose blob service runs (lookups by blob name first). It declares Node 22 and runs on 20.</summary>
    public const string BlobVersion = "3.37.0";

    /// <summary>The version whose table service runs (point reads by PartitionKey first); the newest declaring Node 20.</summary>
    public const string TableVersion = "3.35.0";

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

    /// <summary>The blob service's entry point (<c>azurite-blob</c>).</summary>
    public static string BlobScript(string toolsDirectory) => Script(toolsDirectory, BlobVersion, "blob");

    /// <summary>The table service's entry point (<c>azurite-table</c>).</summary>
    public static string TableScript(string toolsDirectory) => Script(toolsDirectory, TableVersion, "table");

    /// <summary>Installs both pinned versions with npm unless they are already there.</summary>
    public static async Task EnsureInstalledAsync(string toolsDirectory, Action<string> log, CancellationToken cancellationToken)
    {
        await InstallAsync(toolsDirectory, BlobVersion, log, cancellationToken).ConfigureAwait(false);
        await InstallAsync(toolsDirectory, TableVersion, log, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts Azurite's blob and table services on free loopback ports; returns once both answer.</summary>
    public static Task<AzuriteProcesses> StartAsync(string toolsDirectory, string? dataDirectory, string logFile, CancellationToken cancellationToken) =>
        StartAsync(toolsDirectory, dataDirectory, logFile, null, cancellationToken);

    /// <summary>
    /// Starts Azurite's blob and table services on the ports of <paramref name="connectionString"/> when given (a
    /// restart the running apps reconnect to), else on free ones. The blob service logs to <paramref name="logFile"/>,
    /// the table service beside it (<c>-table</c> before the extension). On failure stops what it started.
    /// </summary>
    public static async Task<AzuriteProcesses> StartAsync(string toolsDirectory, string? dataDirectory, string logFile, string? connectionString, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(logFile);
        // Both at once: picked one after another, a port released by the first pick could come back for the next.
        var free = connectionString is null ? FreePorts(2) : null;
        var blobPort = free?[0] ?? PortOf(connectionString!, "BlobEndpoint");
        var tablePort = free?[1] ?? PortOf(connectionString!, "TableEndpoint");
        var tableLog = Path.Combine(Path.GetDirectoryName(logFile) ?? ".", Path.GetFileNameWithoutExtension(logFile) + "-table" + Path.GetExtension(logFile));
        var blobPid = Start(BlobScript(toolsDirectory), "--blobHost", "--blobPort", blobPort, dataDirectory, logFile);
        var tablePid = 0;
        try
        {
            tablePid = Start(TableScript(toolsDirectory), "--tableHost", "--tablePort", tablePort, dataDirectory, tableLog);
            await WaitForPortAsync(blobPort, blobPid, logFile, cancellationToken).ConfigureAwait(false);
            await WaitForPortAsync(tablePort, tablePid, tableLog, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            ChildProcesses.Kill(blobPid);
            if (tablePid != 0)
            {
                ChildProcesses.Kill(tablePid);
            }

            throw;
        }

        var started =
            $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
            $"BlobEndpoint=http://127.0.0.1:{blobPort}/{AccountName};" +
            $"TableEndpoint=http://127.0.0.1:{tablePort}/{AccountName};";
        return new AzuriteProcesses(blobPid, tablePid, started, blobPort);
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

    private static string Script(string toolsDirectory, string version, string service) =>
        Path.Combine(toolsDirectory, "azurite-" + version, "node_modules", "azurite", "dist", "src", service, "main.js");

    private static int Start(string script, string hostFlag, string portFlag, int port, string? dataDirectory, string logFile)
    {
        var args = new List<string>
        {
            script,
            hostFlag, "127.0.0.1", portFlag, port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--skipApiVersionCheck", "--disableTelemetry", "--loose",
        };
        if (dataDirectory is null)
        {
            args.Add("--inMemoryPersistence");
        }
        else
        {
            // One folder for both: the blob service keeps __azurite_db_blob__.json and __blobstorage__, the table
            // service __azurite_db_table__.json, as one Azurite process did.
            Directory.CreateDirectory(dataDirectory);
            args.Add("--location");
            args.Add(dataDirectory);
        }

        return ChildProcesses.Start("node", args, new Dictionary<string, string>(), logFile);
    }

    private static async Task InstallAsync(string toolsDirectory, string version, Action<string> log, CancellationToken cancellationToken)
    {
        var marker = Script(toolsDirectory, version, "table");
        if (File.Exists(marker))
        {
            return;
        }

        var prefix = Path.Combine(toolsDirectory, "azurite-" + version);
        Directory.CreateDirectory(prefix);
        // A lock file so two test runs or two `up`s do not install into the same folder at once.
        var lockPath = Path.Combine(toolsDirectory, "azurite-" + version + ".lock");
        await using var installLock = await AcquireLockAsync(lockPath, cancellationToken).ConfigureAwait(false);
        if (File.Exists(marker))
        {
            return;
        }

        log($"Installing Azurite {version} from npm into {prefix} (first use only)…");
        var npm = new ProcessStartInfo("npm")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "install", "--prefix", prefix, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", "--engine-strict=false", $"azurite@{version}" })
        {
            npm.ArgumentList.Add(arg);
        }

        using var process = Process.Start(npm) ?? throw new InvalidOperationException("could not start npm: is Node.js installed?");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0 || !File.Exists(marker))
        {
            throw new InvalidOperationException($"npm install azurite@{version} failed (exit {process.ExitCode}): {await stderr.ConfigureAwait(false)}{await stdout.ConfigureAwait(false)}");
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
