namespace Serverless.Routing;

/// <summary>Finds the API key in <c>Authorization: Bearer …</c> or <c>x-api-key</c>.</summary>
public static class ApiKeyHeader
{
    public static string? Read(string? authorization, string? apiKey)
    {
        if (!string.IsNullOrWhiteSpace(authorization) && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization[7..].Trim();
        }

        return string.IsNullOrWhiteSpace(apiKey) ? null : apiKey.Trim();
    }
}
