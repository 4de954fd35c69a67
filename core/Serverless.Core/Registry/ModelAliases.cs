using Serverless.Core.Naming;

namespace Serverless.Core.Registry;

/// <summary>The rules for alias names: a valid name that cannot be mistaken for a version.</summary>
public static class ModelAliases
{
    /// <summary>Null when the alias may be set by a user, else the reason.</summary>
    public static string? Check(string? alias)
    {
        if (!ModelNames.IsValidName(alias) || ModelNames.IsValidVersion(alias))
        {
            return $"alias '{alias}' is not valid: use lower-case letters, digits, '-' or '_', starting with a letter (and not a version number)";
        }

        return alias == ModelRegistry.LatestAlias ? "alias 'latest' is set automatically to the highest Ready version" : null;
    }
}
