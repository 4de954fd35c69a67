using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Serverless.Core.Naming;

/// <summary>
/// The naming rules for tenants, models and versions. Every name is checked here before it reaches a
/// storage call, so a bad name is a clear 400 or rejection, never a storage error.
/// </summary>
public static partial class ModelNames
{
    /// <summary>Lower-case letters, digits, '-' and '_', 1–63 characters, starting with a letter or digit.</summary>
    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]{0,62}\z", RegexOptions.CultureInvariant)]
    private static partial Regex NameRegex();

    /// <summary>Digits (<c>3</c>) or a semantic version (<c>1.2.0</c>, <c>1.2.0-rc.1</c>).</summary>
    [GeneratedRegex(@"^(0|[1-9][0-9]{0,17})(\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex VersionRegex();

    public static bool IsValidName(string? name) => name is not null && NameRegex().IsMatch(name);

    public static bool IsValidVersion(string? version) => version is not null && version.Length <= 64 && VersionRegex().IsMatch(version);

    /// <summary>Returns null when the tenant name is valid, else a message naming what is wrong.</summary>
    public static string? CheckTenant(string? tenant) => CheckName("tenant", tenant);

    /// <summary>Returns null when the model name is valid, else a message naming what is wrong.</summary>
    public static string? CheckModel(string? model) => CheckName("model", model);

    /// <summary>Returns null when the version is valid, else a message naming what is wrong.</summary>
    public static string? CheckVersion(string? version) =>
        IsValidVersion(version)
            ? null
            : $"version '{Printable(version)}' is not valid: use digits (e.g. 3) or a semantic version (e.g. 1.2.0)";

    /// <summary>Throws <see cref="ArgumentException"/> with the reason when any part is invalid.</summary>
    public static void Validate(string tenant, string model, string? version = null)
    {
        var error = CheckTenant(tenant) ?? CheckModel(model) ?? (version is null ? null : CheckVersion(version));
        if (error is not null)
        {
            throw new ArgumentException(error);
        }
    }

    /// <summary>
    /// True when a raw (possibly invalid) name can still be part of a Table storage key: at most 255
    /// characters, none of '/', '\\', '#', '?' or control characters.
    /// </summary>
    public static bool IsTableKeySafe(string value)
    {
        if (value.Length is 0 or > 255)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is '/' or '\\' or '#' or '?' || char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The registry partition key of a model: <c>{tenant}~{model}</c>.</summary>
    public static string ModelKey(string tenant, string model) => string.Concat(tenant, "~", model);

    /// <summary>The immutable blob name of served model bytes.</summary>
    public static string ModelBlobName(string tenant, string model, string version, string sha256) =>
        $"{tenant}/{model}/{version}/{sha256}.onnx";

    /// <summary>The blob name a model is dropped at for publishing.</summary>
    public static string DropBlobName(string tenant, string model, string version) =>
        $"{tenant}/{model}/{version}/model.onnx";

    /// <summary>Splits a drop blob name <c>{tenant}/{model}/{version}/model.onnx</c>.</summary>
    public static bool TryParseDropBlobName(string blobName, [NotNullWhen(true)] out string? tenant, [NotNullWhen(true)] out string? model, [NotNullWhen(true)] out string? version)
    {
        tenant = model = version = null;
        var parts = blobName.Split('/');
        if (parts.Length != 4 || parts[3] != "model.onnx")
        {
            return false;
        }

        (tenant, model, version) = (parts[0], parts[1], parts[2]);
        return true;
    }

    private static string? CheckName(string what, string? name) =>
        IsValidName(name)
            ? null
            : $"{what} name '{Printable(name)}' is not valid: use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit";

    private static string Printable(string? value) =>
        value is null ? "" : value.Length > 80 ? string.Concat(value.AsSpan(0, 80), "…") : value;
}
