using Serverless.Core.Naming;
using Serverless.Core.Protocol;
using Serverless.Core.Serving;

namespace Serverless.Core.Registry;

/// <summary>
/// The registry as the v2 API sees it: names checked, versions resolved, and the metadata and
/// readiness answers. Shared by the router (which answers these itself) and the shards.
/// </summary>
public sealed class ModelCatalog
{
    private readonly ModelRegistry _registry;
    private readonly ModelNameIndex? _names;

    /// <summary>Every name is looked up in the registry (tools, tests).</summary>
    public ModelCatalog(ModelRegistry registry)
        : this(registry, null)
    {
    }

    /// <summary>With the tenants' name sets in front: a name a tenant never published is 404 with no storage read.</summary>
    public ModelCatalog(ModelRegistry registry, ModelNameIndex? names)
    {
        _registry = registry;
        _names = names;
    }

    /// <summary>The name sets in front of the registry, when there are.</summary>
    public ModelNameIndex? Names => _names;

    /// <summary>Resolves a version or throws a 400/404 <see cref="ServingException"/> saying why.</summary>
    public ValueTask<ModelVersionEntity> ResolveAsync(string tenant, string model, string? version, CancellationToken cancellationToken) =>
        ResolveAsync(tenant, model, version, checkedSha256: null, cancellationToken);

    /// <summary>
    /// As <see cref="ResolveAsync(string, string, string?, CancellationToken)"/>; with <paramref name="checkedSha256"/>
    /// (the router resolved this numbered version in the registry a moment ago, within its freshness, and found
    /// these bytes), a Ready row of it kept from an earlier read with the same hash is used however old, so a
    /// model's reload costs no registry read on the shard. A version deleted and published again with other
    /// bytes has another hash, and is read.
    /// </summary>
    public async ValueTask<ModelVersionEntity> ResolveAsync(string tenant, string model, string? version, string? checkedSha256, CancellationToken cancellationToken)
    {
        if (checkedSha256 is not null && version is not null
            && _registry.TryGetKnownVersion(tenant, model, version) is { State: ModelStates.Ready } known
            && string.Equals(known.Sha256, checkedSha256, StringComparison.Ordinal))
        {
            return known;
        }

        var error = ModelNames.CheckTenant(tenant) ?? ModelNames.CheckModel(model)
            ?? (version is null || ModelNames.IsValidName(version) ? null : ModelNames.CheckVersion(version));
        if (error is not null)
        {
            throw new ServingException(ServingErrorCode.InvalidArgument, error);
        }

        if (_names is not null && !await _names.MayExistAsync(tenant, model, cancellationToken).ConfigureAwait(false))
        {
            throw new ServingException(ServingErrorCode.NotFound, $"model '{model}' not found");
        }

        var entry = await _registry.ResolveAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            throw new ServingException(ServingErrorCode.NotFound, version is null ? $"model '{model}' not found" : $"model '{model}' has no version or alias '{version}'");
        }

        return entry.State switch
        {
            ModelStates.Ready => entry,
            ModelStates.Retired => throw new ServingException(ServingErrorCode.NotFound, $"model '{model}' version '{entry.Version}' was retired"),
            _ => throw new ServingException(ServingErrorCode.NotFound, $"model '{model}' version '{entry.Version}' is not servable: {entry.State}: {entry.Error}"),
        };
    }

    /// <summary>The v2 metadata of a model version (the version named, or the default one).</summary>
    public async Task<ServingResult> MetadataAsync(string tenant, string model, string? version, CancellationToken cancellationToken) =>
        await MetadataAsync(tenant, model, version, null, cancellationToken).ConfigureAwait(false);

    /// <summary>The v2 metadata, naming the execution provider the answering shard runs the model on.</summary>
    public async Task<ServingResult> MetadataAsync(string tenant, string model, string? version, string? executionProvider, CancellationToken cancellationToken)
    {
        try
        {
            var entry = await ResolveAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
            var rows = await _registry.GetRowsAsync(tenant, model, cancellationToken).ConfigureAwait(false);
            var versions = version is null ? ModelRegistry.ReadyVersions(rows) : [entry.Version];
            var metadata = new ModelMetadataResponse(model, versions, ModelMetadataResponse.OnnxPlatform, ModelRegistry.ParseTensors(entry.Inputs), ModelRegistry.ParseTensors(entry.Outputs))
            {
                ExecutionProvider = executionProvider,
            };
            return ServingResult.Success(JsonBodies.Metadata(metadata), entry.Version);
        }
        catch (ServingException e)
        {
            return ServingResult.Failure(e.Error, version);
        }
    }

    /// <summary>Whether a model version can be served: registered and Ready.</summary>
    public async Task<ServingResult> ReadyAsync(string tenant, string model, string? version, CancellationToken cancellationToken)
    {
        try
        {
            var entry = await ResolveAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
            return ServingResult.Success(JsonBodies.ModelReady(new ModelReadyResponse(model, entry.Version, true)), entry.Version);
        }
        catch (ServingException e)
        {
            return ServingResult.Failure(e.Error, version);
        }
    }
}
