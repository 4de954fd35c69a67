using System.Text;
using Serverless.Core.Naming;

namespace Serverless.Cli.Publishing;

/// <summary>
/// Finds what <c>serverless publish DIR</c> publishes: every <c>*.onnx</c> below the folder. A file named
/// <c>model.onnx</c> takes its folder's name (the drop layout); any other file its own name, lower-cased
/// and with characters the naming rules do not allow turned into '-'. A <c>model.json</c> beside a
/// <c>model.onnx</c>, or <c>{name}.json</c> beside <c>{name}.onnx</c>, is its manifest.
/// </summary>
public static class PublishPlanner
{
    public static List<PublishItem> Plan(string directory)
    {
        var items = new List<PublishItem>();
        foreach (var path in Directory.EnumerateFiles(directory, "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var isDropLayout = Path.GetFileName(path) == "model.onnx";
            var stem = isDropLayout ? Path.GetFileName(Path.GetDirectoryName(path)!) : Path.GetFileNameWithoutExtension(path);
            var manifest = Path.ChangeExtension(path, ".json");
            items.Add(new PublishItem(path, ToModelName(stem), File.Exists(manifest) ? manifest : null));
        }

        return items;
    }

    /// <summary>A model name from a file name: lower case, '-' for anything else, at most 63 characters.</summary>
    public static string ToModelName(string stem)
    {
        var name = new StringBuilder(stem.Length);
        foreach (var c in stem.ToLowerInvariant())
        {
            name.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' ? c : '-');
        }

        var result = name.ToString().Trim('-', '_');
        if (result.Length > 63)
        {
            result = result[..63].TrimEnd('-', '_');
        }

        return ModelNames.IsValidName(result) ? result : "model";
    }
}
