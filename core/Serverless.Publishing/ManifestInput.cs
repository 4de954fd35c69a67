namespace Serverless.Publishing;

/// <summary>One input's entry in <c>model.json</c>.</summary>
public sealed class ManifestInput
{
    public string? Description { get; set; }
}
