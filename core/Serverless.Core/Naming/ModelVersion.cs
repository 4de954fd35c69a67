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

        return ComparePreRelease(lpre, rpre);
    }

    /// <summary>SemVer 2.0 §11.4: dot-separated identifiers; numeric ones as numbers and below alphanumeric ones.</summary>
    private static int ComparePreRelease(string left, string right)
    {
        var l = left.Split('.');
        var r = right.Split('.');
        for (var i = 0; i < Math.Min(l.Length, r.Length); i++)
        {
            var lNumeric = ulong.TryParse(l[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ln);
            var rNumeric = ulong.TryParse(r[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rn);
            var c = (lNumeric, rNumeric) switch
            {
                (true, true) => ln.CompareTo(rn),
                (true, false) => -1,
                (false, true) => 1,
                _ => string.CompareOrdinal(l[i], r[i]),
            };
            if (c != 0)
            {
                return c;
            }
        }

        return l.Length.CompareTo(r.Length);
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
