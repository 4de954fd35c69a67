namespace Serverless.Publishing;

/// <summary>What <see cref="RegistryCheck"/> can find wrong between the registry and the stored bytes.</summary>
public enum RegistryFindingKind
{
    /// <summary>A Ready or Retired version whose row names no bytes (no SHA-256 or blob name).</summary>
    RowWithoutBytes,

    /// <summary>A Ready or Retired version whose blob is missing from <c>models</c>.</summary>
    RowWithoutBlob,

    /// <summary>A blob in <c>models</c> that no Ready or Retired row names.</summary>
    BlobWithoutRow,

    /// <summary>An alias pointing at a version that has no row, or one that is not Ready.</summary>
    DanglingAlias,

    /// <summary><c>latest</c> not pointing at the highest Ready version.</summary>
    StaleLatest,
}
