using Serverless.Core.Naming;

namespace Serverless.Core.Registry;

/// <summary>
/// Where a page of <see cref="ModelListing"/> ended: the keys of its last row. The next page starts strictly after it,
/// by a key range (<c>PartitionKey gt …</c>), so it is as cheap as the first whatever page it is, and survives rows
/// added or removed between pages (a Table continuation token would too, but it points at where storage stopped
/// reading, not at the last row shown, and a page here may end inside storage's page).
/// Written <c>{tenant}~{model}/{version}</c>; <c>{tenant}~{model}</c> alone means after every version of that model.
/// </summary>
public sealed record ModelListCursor(string PartitionKey, string? RowKey)
{
    /// <summary>The cursor after <paramref name="row"/>.</summary>
    public static ModelListCursor After(ModelVersionEntity row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new ModelListCursor(row.PartitionKey, row.RowKey);
    }

    /// <summary>
    /// Reads what <see cref="ToString"/> wrote, or a bare model name (after every version of it) when
    /// <paramref name="tenant"/> is given. Null with <paramref name="error"/> when it is neither.
    /// </summary>
    public static ModelListCursor? Parse(string text, string? tenant, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        error = null;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var key = slash < 0 ? text : text[..slash];
        var version = slash < 0 ? null : text[(slash + 1)..];
        if (!key.Contains('~', StringComparison.Ordinal))
        {
            if (tenant is null)
            {
                error = $"'{text}' names no tenant: give --tenant, or the cursor a page printed ({{tenant}}~{{model}}[/{{version}}])";
                return null;
            }

            key = ModelNames.ModelKey(tenant, key);
        }

        var tilde = key.IndexOf('~', StringComparison.Ordinal);
        var checkedName = ModelNames.CheckTenant(key[..tilde]) ?? ModelNames.CheckModel(key[(tilde + 1)..])
            ?? (version is null ? null : ModelNames.CheckVersion(version));
        if (checkedName is not null)
        {
            error = $"'{text}' is no cursor: {checkedName}";
            return null;
        }

        return new ModelListCursor(key, version);
    }

    public override string ToString() => RowKey is null ? PartitionKey : PartitionKey + "/" + RowKey;
}
