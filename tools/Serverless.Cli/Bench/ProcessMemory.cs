using System.Globalization;

namespace Serverless.Cli.Bench;

/// <summary>Resident memory of a process, from <c>/proc/{pid}/status</c> (Linux).</summary>
internal static class ProcessMemory
{
    /// <summary>VmRSS in bytes, or null where /proc does not say.</summary>
    public static long? ResidentBytes(int pid) => Field(pid, "VmRSS:");

    /// <summary>A <c>kB</c> field of <c>/proc/{pid}/status</c> in bytes.</summary>
    public static long? Field(int pid, string name)
    {
        var path = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status";
        if (!File.Exists(path))
        {
            return null;
        }

        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith(name, StringComparison.Ordinal))
            {
                var parts = line[name.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length > 0 && long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb))
                {
                    return kb * 1024;
                }
            }
        }

        return null;
    }
}
