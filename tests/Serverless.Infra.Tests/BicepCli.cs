using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Serverless.Infra.Tests;

/// <summary>The outcome of one Bicep CLI run.</summary>
/// <param name="ExitCode">The process exit code.</param>
/// <param name="StandardOutput">What it wrote to stdout (the ARM JSON for <c>build --stdout</c>).</param>
/// <param name="StandardError">What it wrote to stderr (diagnostics).</param>
internal sealed record BicepResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Diagnostic lines at Warning or Error level, e.g. <c>file.bicep(3,7) : Warning no-unused-params: …</c>.</summary>
    public IReadOnlyList<string> Problems =>
        (IsJson ? StandardError : StandardOutput + "\n" + StandardError)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => ProblemLine().IsMatch(line))
            .ToList();

    public string Describe() =>
        $"exit code {ExitCode}\nstderr:\n{StandardError}\n" + (IsJson ? "" : $"stdout:\n{StandardOutput}\n");

    private bool IsJson => StandardOutput.TrimStart().StartsWith('{');

    private static Regex ProblemLine() => ProblemRegex;

    // `path(line,col) : Warning rule: message`, or a bare `Error …` line.
    private static readonly Regex ProblemRegex = new(
        @"^(?:.*\(\d+,\d+\)\s*:\s*)?(?:Warning|Error)\b", RegexOptions.Compiled | RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
}

/// <summary>
/// Runs the pinned Bicep CLI from the NuGet cache (package Azure.Bicep.CommandLine.linux-x64; the
/// path is written into the assembly's metadata at build time).
/// </summary>
internal static class BicepCli
{
    public static string RepositoryRoot { get; } = Metadata("RepositoryRoot");

    public static string InfraDirectory { get; } = Path.Combine(RepositoryRoot, "infra");

    public static string ExecutablePath { get; } = Metadata("BicepPath");

    public static string PinnedVersion { get; } = Metadata("BicepVersion");

    /// <summary>Where <c>bicep build</c> writes the ARM JSON, mirroring infra/ (deleted when the run ends).</summary>
    public static string OutputDirectory { get; } = Path.Combine(Path.GetTempPath(), $"serverless-infra-tests-{Environment.ProcessId}-{Guid.NewGuid():N}");

    private static readonly Lazy<BicepResult> BuildAllResult = new(() =>
        Run("build", "--pattern", "**/*.bicep", "--outdir", OutputDirectory));

    private static readonly Lazy<BicepResult> LintAllResult = new(() => Run("lint", "--pattern", "**/*.bicep"));

    /// <summary>Every .bicep file under infra/, relative to infra/, with '/' separators.</summary>
    public static IEnumerable<string> BicepFiles() =>
        Directory.EnumerateFiles(InfraDirectory, "*.bicep", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(InfraDirectory, path).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);

    /// <summary>
    /// <c>bicep build --pattern **/*.bicep</c> over infra/, run once per test run: one process for every file
    /// (the CLI takes about a second to start, and the per-file tests share the result).
    /// </summary>
    public static BicepResult BuildAll() => BuildAllResult.Value;

    /// <summary><c>bicep lint --pattern **/*.bicep</c> over infra/, run once per test run.</summary>
    public static BicepResult LintAll() => LintAllResult.Value;

    /// <summary>The diagnostic lines (Warning or Error) a run reported against one file under infra/.</summary>
    public static IReadOnlyList<string> ProblemsIn(BicepResult result, string relativePath)
    {
        var prefix = Path.GetFullPath(Path.Combine(InfraDirectory, relativePath)) + "(";
        return result.Problems.Where(line => line.StartsWith(prefix, StringComparison.Ordinal)).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>The ARM JSON that <c>bicep build</c> made of a file under infra/; fails the test when there is none.</summary>
    public static JsonObject BuildJson(string relativePath)
    {
        var result = BuildAll();
        var json = Path.Combine(OutputDirectory, Path.ChangeExtension(relativePath, ".json"));
        if (!File.Exists(json))
        {
            throw new AssertFailedException($"bicep build wrote no {Path.ChangeExtension(relativePath, ".json")}: {result.Describe()}");
        }

        return JsonNode.Parse(File.ReadAllText(json))?.AsObject()
            ?? throw new AssertFailedException($"bicep build {relativePath} wrote no JSON object");
    }

    /// <summary>Deletes the build output (called once the test run ends).</summary>
    public static void DeleteOutput()
    {
        if (Directory.Exists(OutputDirectory))
        {
            Directory.Delete(OutputDirectory, recursive: true);
        }
    }

    public static BicepResult Run(params string[] arguments)
    {
        EnsureExecutable();
        var start = new ProcessStartInfo(ExecutablePath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = InfraDirectory,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // No telemetry, no update checks: CI has no network.
        start.Environment["BICEP_TELEMETRY_ENABLED"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {ExecutablePath}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new AssertFailedException($"bicep {string.Join(' ', arguments)} took over 60 s");
        }

        process.WaitForExit();
        return new BicepResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    private static readonly Lazy<bool> Executable = new(() =>
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new AssertFailedException(
                $"Bicep CLI not found at {ExecutablePath}: restore tests/Serverless.Infra.Tests (PackageDownload Azure.Bicep.CommandLine.linux-x64 {PinnedVersion}).");
        }

        if (!OperatingSystem.IsWindows())
        {
            // NuGet extraction may drop the execute bit.
            var mode = File.GetUnixFileMode(ExecutablePath);
            const UnixFileMode execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
            if ((mode & UnixFileMode.UserExecute) == 0)
            {
                File.SetUnixFileMode(ExecutablePath, mode | execute);
            }
        }

        return true;
    });

    private static void EnsureExecutable() => _ = Executable.Value;

    private static string Metadata(string key) =>
        typeof(BicepCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"assembly metadata {key} is missing (see Serverless.Infra.Tests.csproj)");
}
