using System.Globalization;
using System.Runtime.InteropServices;

namespace Serverless.Cli.Bench;

/// <summary>The machine a bench ran on: what the report and docs/benchmarks.md record.</summary>
internal sealed record MachineInfo(int Processors, string Cpu, long MemoryBytes, string Os, string Runtime, string Build)
{
    public static MachineInfo Current()
    {
        var cpu = "unknown";
        if (File.Exists("/proc/cpuinfo"))
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is var colon and > 0)
                {
                    cpu = line[(colon + 1)..].Trim();
                    break;
                }
            }
        }

        long memory = 0;
        if (File.Exists("/proc/meminfo"))
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                {
                    var parts = line["MemTotal:".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length > 0 && long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb))
                    {
                        memory = kb * 1024;
                    }
                }
            }
        }

#if DEBUG
        const string build = "Debug";
#else
        const string build = "Release";
#endif
        return new MachineInfo(Environment.ProcessorCount, cpu, memory, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, build);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Processors} CPU(s) ({Cpu}), {MemoryBytes / (1024.0 * 1024 * 1024):0.#} GiB memory, {Os}, {Runtime}, {Build} build");
}
