using System.Globalization;
using System.Net;
using System.Text;

namespace Serverless.Cli.Simulation;

/// <summary>
/// A hand-written SVG bar chart of the load on each shard, before and after per-model scaling, side by
/// side per shard, with axes, tick labels, the mean as a dashed line and a legend. No packages.
/// </summary>
internal static class SvgPlot
{
    private const int Width = 1100;
    private const int Height = 520;
    private const int Left = 90;
    private const int Right = 24;
    private const int Top = 78;
    private const int Bottom = 64;
    private const string BeforeColor = "#e15759";
    private const string AfterColor = "#4e79a7";

    public static string Render(IReadOnlyList<string> shardIds, IReadOnlyList<double> before, IReadOnlyList<double> after, string title, string subtitle)
    {
        ArgumentNullException.ThrowIfNull(shardIds);
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var n = shardIds.Count;
        var max = Math.Max(before.DefaultIfEmpty(0).Max(), after.DefaultIfEmpty(0).Max());
        var step = NiceStep(max / 6);
        var top = Math.Max(step, Math.Ceiling(max / step) * step);
        var mean = before.DefaultIfEmpty(0).Average();
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        var slot = (double)plotWidth / Math.Max(1, n);
        var bar = Math.Max(0.5, slot * 0.42);
        double Y(double value) => Top + plotHeight - (value / top * plotHeight);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"Helvetica, Arial, sans-serif\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"28\" font-size=\"18\" font-weight=\"bold\">{Escape(title)}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"50\" font-size=\"13\" fill=\"#444\">{Escape(subtitle)}</text>\n");

        // Horizontal grid and y tick labels.
        for (var value = 0.0; value <= top + (step / 2); value += step)
        {
            var y = Y(value);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{Width - Right}\" y2=\"{y:0.#}\" stroke=\"#e5e5e5\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 8}\" y=\"{y + 4:0.#}\" font-size=\"12\" text-anchor=\"end\">{FormatRps(value)}</text>\n");
        }

        // Bars: before then after, per shard.
        for (var i = 0; i < n; i++)
        {
            var x = Left + (i * slot) + ((slot - (2 * bar)) / 2);
            AppendBar(svg, x, bar, Y(before[i]), Y(0), BeforeColor, $"{shardIds[i]} before: {FormatRps(before[i])} rps");
            AppendBar(svg, x + bar, bar, Y(after[i]), Y(0), AfterColor, $"{shardIds[i]} after: {FormatRps(after[i])} rps");
        }

        // Mean (the same before and after: scaling moves load, it does not add any).
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Y(mean):0.#}\" x2=\"{Width - Right}\" y2=\"{Y(mean):0.#}\" stroke=\"#222\" stroke-dasharray=\"6 4\" stroke-width=\"1.5\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width - Right - 4}\" y=\"{Y(mean) - 6:0.#}\" font-size=\"12\" text-anchor=\"end\" stroke=\"white\" stroke-width=\"4\" paint-order=\"stroke\">mean {FormatRps(mean)} rps</text>\n");

        // Axes.
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Top + plotHeight}\" stroke=\"#222\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Top + plotHeight}\" x2=\"{Width - Right}\" y2=\"{Top + plotHeight}\" stroke=\"#222\"/>\n");
        var every = Math.Max(1, (int)Math.Ceiling(n / 16.0));
        for (var i = 0; i < n; i += every)
        {
            var x = Left + ((i + 0.5) * slot);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x:0.#}\" y1=\"{Top + plotHeight}\" x2=\"{x:0.#}\" y2=\"{Top + plotHeight + 5}\" stroke=\"#222\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x:0.#}\" y=\"{Top + plotHeight + 19}\" font-size=\"11\" text-anchor=\"middle\">{Escape(shardIds[i])}</text>\n");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + (plotWidth / 2)}\" y=\"{Height - 16}\" font-size=\"13\" text-anchor=\"middle\">shard</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(22 {Top + (plotHeight / 2)}) rotate(-90)\" font-size=\"13\" text-anchor=\"middle\">requests per second</text>\n");

        // Legend.
        var legendX = Width - Right - 330;
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{legendX}\" y=\"{Top + 8}\" width=\"322\" height=\"50\" fill=\"white\" stroke=\"#ccc\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{legendX + 10}\" y=\"{Top + 16}\" width=\"14\" height=\"12\" fill=\"{BeforeColor}\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{legendX + 30}\" y=\"{Top + 27}\" font-size=\"12\">before per-model scaling (max/mean {Ratio(before, mean)})</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{legendX + 10}\" y=\"{Top + 36}\" width=\"14\" height=\"12\" fill=\"{AfterColor}\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{legendX + 30}\" y=\"{Top + 47}\" font-size=\"12\">after per-model scaling (max/mean {Ratio(after, mean)})</text>\n");
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static void AppendBar(StringBuilder svg, double x, double width, double y, double baseline, string color, string tooltip) =>
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:0.##}\" y=\"{y:0.##}\" width=\"{width:0.##}\" height=\"{Math.Max(0, baseline - y):0.##}\" fill=\"{color}\"><title>{Escape(tooltip)}</title></rect>\n");

    private static string Ratio(IReadOnlyList<double> values, double mean) =>
        mean > 0 ? (values.Max() / mean).ToString("0.00", CultureInfo.InvariantCulture) : "-";

    /// <summary>1, 2 or 5 times a power of ten, at least <paramref name="rough"/>.</summary>
    private static double NiceStep(double rough)
    {
        if (rough <= 0 || double.IsNaN(rough))
        {
            return 1;
        }

        var power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        var fraction = rough / power;
        return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
    }

    private static string FormatRps(double value) =>
        value >= 1_000_000 ? (value / 1_000_000).ToString("0.##", CultureInfo.InvariantCulture) + "M"
        : value >= 1_000 ? (value / 1_000).ToString("0.#", CultureInfo.InvariantCulture) + "k"
        : value.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Escape(string text) => WebUtility.HtmlEncode(text);
}
