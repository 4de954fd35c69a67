namespace Serverless.Core.Naming;

/// <summary>
/// Orders versions: plain numbers compare as major versions (<c>3</c> = <c>3.0.0</c>); a pre-release
/// sorts before its release, as semantic versioning says.
/// </summary>
public static class ModelVersion
{
    public static int Compare(string left, string right)
    {
        var (la, lb, lc, lpre) = Parse(left);
        var (ra, rb, rc, rpre) = Parse(right);
        var c = la.CompareTo(ra);
        if (c == 0) c = lb.CompareTo(rb);
        if (c == 0) c = lc.CompareTo(rc);
        if (c != 0) return c;
        if (lpre is null || rpre is null)
        {
            return lpre is null ? (rpre is null ? 0 : 1) : -1;
        }

        return string.CompareOrdinal(lpre, rpre);
    }

    private static (long Major, long Minor, long Patch, string? PreRelease) Parse(string version)
    {
        var dash = version.IndexOf('-', StringComparison.Ordinal);
        var pre = dash >= 0 ? version[(dash + 1)..] : null;
        var core = dash >= 0 ? version[..dash] : version;
        var parts = core.Split('.');
        long Part(int i) => i < parts.Length && long.TryParse(parts[i], out var v) ? v : 0;
        return (Part(0), Part(1), Part(2), pre);
    }
}
