using System.Globalization;
using System.Net;
using System.Text;

namespace Serverless.Cli.Bench;

/// <summary>
/// A hand-written SVG latency-percentile plot (as HdrHistogram draws them): x is the percentile on the
/// scale −log10(1 − p), so 50, 90, 99, 99.9 and 99.99 are evenly spaced; y is latency in ms on a log
/// scale (the floors are microseconds, cold loads tens of milliseconds); one line per scenario phase.
/// </summary>
internal static class LatencyPlot
{
    private const int Width = 1100;
    private const int Height = 620;
    private const int Left = 80;
    private const int Right = 330;
    private const int Top = 78;
    private const int Bottom = 60;
    private static readonly string[] Palette =
        ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#d62728"];
    private static readonly double[] Ticks = [50, 90, 99, 99.9, 99.99];

    public static string Render(IReadOnlyList<ScenarioResult> results, string title, string subtitle)
    {
        ArgumentNullException.ThrowIfNull(results);
        var series = results.Where(r => r.Plot && r.Curve.Count > 0).ToList();
        var all = series.SelectMany(r => r.Curve).Select(p => p.LatencyMs).Where(v => v > 0).DefaultIfEmpty(1).ToList();
        var yMin = Math.Floor(Math.Log10(all.Min()));
        var yMax = Math.Ceiling(Math.Log10(all.Max()));
        if (yMax <= yMin)
        {
            yMax = yMin + 1;
        }

        const double xMin = 0.30103; // p50
        const double xMax = 4; // p99.99
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        double X(double percentile) => Left + ((Math.Clamp(-Math.Log10(1 - (percentile / 100)), xMin, xMax) - xMin) / (xMax - xMin) * plotWidth);
        double Y(double ms) => Top + plotHeight - ((Math.Log10(Math.Max(ms, Math.Pow(10, yMin))) - yMin) / (yMax - yMin) * plotHeight);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"Helvetica, Arial, sans-serif\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"28\" font-size=\"18\" font-weight=\"bold\">{Escape(title)}</text>\n");
        // The subtitle may be long: each " | "-separated part on its own line.
        var parts = subtitle.Split(" | ");
        for (var line = 0; line < parts.Length && line < 2; line++)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{46 + (line * 15)}\" font-size=\"12\" fill=\"#444\">{Escape(parts[line])}</text>\n");
        }


        // y grid: decades, with 2 and 5 minor lines.
        for (var decade = yMin; decade <= yMax; decade++)
        {
            var value = Math.Pow(10, decade);
            var y = Y(value);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{Left + plotWidth}\" y2=\"{y:0.#}\" stroke=\"#d0d0d0\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 8}\" y=\"{y + 4:0.#}\" font-size=\"12\" text-anchor=\"end\">{FormatMs(value)}</text>\n");
            foreach (var minor in new[] { 2.0, 5.0 })
            {
                if (decade < yMax)
                {
                    var ym = Y(value * minor);
                    svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{ym:0.#}\" x2=\"{Left + plotWidth}\" y2=\"{ym:0.#}\" stroke=\"#f0f0f0\"/>\n");
                }
            }
        }

        // x grid: the percentile ticks.
        foreach (var tick in Ticks)
        {
            var x = X(tick);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x:0.#}\" y1=\"{Top}\" x2=\"{x:0.#}\" y2=\"{Top + plotHeight}\" stroke=\"#d0d0d0\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x:0.#}\" y=\"{Top + plotHeight + 18}\" font-size=\"12\" text-anchor=\"middle\">p{tick.ToString(CultureInfo.InvariantCulture)}</text>\n");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotWidth}\" height=\"{plotHeight}\" fill=\"none\" stroke=\"#222\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + (plotWidth / 2)}\" y=\"{Height - 16}\" font-size=\"13\" text-anchor=\"middle\">percentile (scale −log10(1 − p))</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(20 {Top + (plotHeight / 2)}) rotate(-90)\" font-size=\"13\" text-anchor=\"middle\">latency, ms (log scale)</text>\n");

        // One line per series, and the legend.
        for (var i = 0; i < series.Count; i++)
        {
            var r = series[i];
            var color = Palette[i % Palette.Length];
            var dash = r.Mode.StartsWith("open", StringComparison.Ordinal) ? " stroke-dasharray=\"7 4\"" : "";
            var points = string.Join(' ', r.Curve.Select(p => string.Create(CultureInfo.InvariantCulture, $"{X(p.Percentile):0.##},{Y(p.LatencyMs):0.##}")));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline points=\"{points}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash}><title>{Escape(Label(r))}</title></polyline>\n");
            var ly = Top + 10 + (i * 22);
            var lx = Left + plotWidth + 16;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{lx}\" y1=\"{ly + 6}\" x2=\"{lx + 26}\" y2=\"{ly + 6}\" stroke=\"{color}\" stroke-width=\"3\"{dash}/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{lx + 32}\" y=\"{ly + 10}\" font-size=\"11.5\">{Escape(Label(r))}</text>\n");
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string Label(ScenarioResult r)
    {
        var rate = r.TargetRate is { } perSecond ? string.Create(CultureInfo.InvariantCulture, $" @ {perSecond:0} req/s") : "";
        return string.Create(CultureInfo.InvariantCulture, $"{r.Id}{rate}: p50 {FormatMs(r.P50Ms)}");
    }

    private static string FormatMs(double ms) =>
        ms >= 1 ? ms.ToString("0.##", CultureInfo.InvariantCulture) + " ms"
        : ms >= 0.001 ? (ms * 1000).ToString("0.#", CultureInfo.InvariantCulture) + " µs"
        : (ms * 1_000_000).ToString("0", CultureInfo.InvariantCulture) + " ns";

    private static string Escape(string text) => WebUtility.HtmlEncode(text);
}
