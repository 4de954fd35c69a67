using System.Security.Cryptography;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.Scoring;
using Serverless.Core.Storage;
using Serverless.Onnx;

namespace Serverless.Publishing;

/// <summary>
/// Turns a file dropped at <c>model-drop/{tenant}/{model}/{version}/model.onnx</c> (with an optional
/// <c>model.json</c> beside it) into a served model: check → open with ONNX Runtime → store immutably in
/// <c>models</c> → register in Table <c>models</c> → set aliases. A file that fails leaves the dropped blob
/// in place and a <c>Rejected</c> row saying why.
/// </summary>
public sealed partial class ModelPublisher
{
    private readonly StorageClients _storage;
    private readonly ModelRegistry _registry;
    private readonly ModelLifecycle _lifecycle;
    private readonly IModelValidator _validator;
    private readonly PublisherOptions _options;
    private readonly ILogger<ModelPublisher> _logger;
    private readonly TimeProvider _time;
    private readonly TenantPublishLimits _limits;

    /// <summary>How often a conflicting write of a version row is read again and decided again before the drop is left for a retry.</summary>
    private const int MaxWriteAttempts = 8;

    public ModelPublisher(StorageClients storage, ModelRegistry registry, ModelLifecycle lifecycle, IModelValidator validator, TenantPublishLimits limits, IOptions<PublisherOptions> options, TimeProvider time, ILogger<ModelPublisher> logger)
    {
        _limits = limits;
        _storage = storage;
        _registry = registry;
        _lifecycle = lifecycle;
        _validator = validator;
        _options = options.Value;
        _logger = logger;
        _time = time;
    }

    /// <summary>Publishes the dropped bytes of one model version.</summary>
    public async Task<PublishOutcome> PublishAsync(string tenant, string model, string version, Stream content, CancellationToken cancellationToken)
    {
        var nameError = ModelNames.CheckTenant(tenant) ?? ModelNames.CheckModel(model) ?? ModelNames.CheckVersion(version);
        if (nameError is not null)
        {
            // The dropped blob stays where it is. Where the raw names can still key a table row, the
            // rejection is recorded so `serverless models` shows why the model never appeared.
            if (ModelNames.IsTableKeySafe(tenant) && ModelNames.IsTableKeySafe(model) && ModelNames.IsTableKeySafe(version))
            {
                var named = await _registry.GetAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
                return await RejectAsync(tenant, model, version, "", nameError, named, cancellationToken).ConfigureAwait(false);
            }

            LogRejected(tenant, model, version, nameError);
            return new PublishOutcome(ModelStates.Rejected, nameError, null);
        }

        // The version's row is read before anything else about the drop is decided: a drop that is refused for its
        // own reasons (over the size limit, not a model) must not replace a version that is already published.
        // A model with neither this version nor a latest alias has no Ready version, and (retired versions aside, below) none
        // stored: its first publish needs no read of its partition. Point reads: Azurite answers a query of one partition by
        // testing every row of the table, which made each publish of a 10,000-model fleet cost the emulator tens of ms
        // (issue 17). A model that has versions is read whole, for its versions limit and its latest alias. (A model whose
        // every stored version is retired has no latest alias either: it is counted as a new model, against the stricter
        // models limit, and its versions limit applies from its next publish: one version past it at most.)
        var existing = await _registry.GetAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        var firstPublish = existing is null
            && await _registry.GetAsync(tenant, model, ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias, cancellationToken).ConfigureAwait(false) is null;
        List<ModelVersionEntity> modelRows = firstPublish ? [] : await _registry.ReadRowsAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        if (!firstPublish)
        {
            existing = modelRows.Find(r => !r.IsAlias && r.RowKey == version);
        }

        var bytes = await ReadAsync(content, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return await RejectAsync(tenant, model, version, "", $"model file is over the limit of {_options.MaxModelBytes} bytes", existing, cancellationToken).ConfigureAwait(false);
        }

        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (IsPublished(existing))
        {
            return await AgainstPublishedAsync(existing!, sha, null, cancellationToken).ConfigureAwait(false);
        }

        // Before the file is opened: a tenant over its limits costs no ONNX Runtime session.
        var (overLimit, newModel) = await _limits.CheckAsync(tenant, model, version, bytes.LongLength, modelRows, cancellationToken).ConfigureAwait(false);
        if (overLimit is not null)
        {
            return await RejectAsync(tenant, model, version, sha, overLimit, existing, cancellationToken).ConfigureAwait(false);
        }

        var (manifest, manifestError) = await ReadManifestAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        if (manifestError is not null)
        {
            return await RejectAsync(tenant, model, version, sha, manifestError, existing, cancellationToken).ConfigureAwait(false);
        }

        // In a validator child (ModelValidatorPool): whatever the file does to ONNX Runtime ends that process, not this one.
        var checkedModel = await _validator.ValidateAsync(bytes, model, version, cancellationToken).ConfigureAwait(false);
        var validation = checkedModel.Error;
        var inputs = checkedModel.Inputs;
        var outputs = checkedModel.Outputs;
        if (validation is null && manifest is not null)
        {
            validation = ManifestReader.CheckInputs(manifest, inputs);
        }

        if (validation is null && manifest?.Gpu == true && ModelLoader.ChargeFor(bytes.LongLength) > _options.GpuCacheBytes)
        {
            validation = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"model.json asks for the GPU pool, but a session of this model needs about {ModelLoader.ChargeFor(bytes.LongLength):N0} bytes of device memory (twice the file, {bytes.LongLength:N0} bytes, plus overhead), more than the GPU pool's budget of {_options.GpuCacheBytes:N0} bytes (Publisher__GpuCacheBytes); publish it for the CPU pool or raise the GPU budget");
        }

        if (validation is not null)
        {
            return await RejectAsync(tenant, model, version, sha, validation, existing, cancellationToken).ConfigureAwait(false);
        }

        if (manifest?.Inputs is { } described)
        {
            for (var i = 0; i < inputs.Length; i++)
            {
                if (described.TryGetValue(inputs[i].Name, out var note) && note.Description is { } text)
                {
                    inputs[i] = inputs[i] with { Description = text };
                }
            }
        }

        var blobName = ModelNames.ModelBlobName(tenant, model, version, sha);
        var createdBlob = await StoreAsync(blobName, bytes, cancellationToken).ConfigureAwait(false);
        var row = new ModelVersionEntity
        {
            PartitionKey = ModelNames.ModelKey(tenant, model),
            RowKey = version,
            Tenant = tenant,
            Model = model,
            Version = version,
            State = ModelStates.Ready,
            SizeBytes = bytes.LongLength,
            Sha256 = sha,
            BlobName = blobName,
            Inputs = ModelRegistry.FormatTensors(inputs),
            Outputs = ModelRegistry.FormatTensors(outputs),
            Pool = manifest?.Gpu == true ? "gpu" : "cpu",
            PublishedAt = _time.GetUtcNow(),
            Description = manifest?.Description ?? "",
            Labels = manifest?.Labels is { } labels ? JsonSerializer.Serialize(labels, ManifestJsonContext.Default.DictionaryStringString) : "",
            MaxBatch = manifest?.MaxBatch ?? 0,
            MaxOutputBytes = manifest?.MaxOutputBytes ?? 0,
            BatchMaxQueueDelayUs = manifest?.DynamicBatching?.MaxQueueDelayUs ?? 0,
            BatchPreferredSize = manifest?.DynamicBatching?.PreferredBatchSize ?? 0,
        };
        // A model with no row at all (the common case when a fleet is published): its row and its latest alias in one write.
        var first = (firstPublish || modelRows.Count == 0) && await _registry.TryInsertFirstAsync(row, cancellationToken).ConfigureAwait(false);
        var (written, outcome) = first
            ? (true, new PublishOutcome(row.State, row.Error, row))
            : await WriteAsync(row, firstPublish || modelRows.Count == 0 ? await _registry.GetAsync(tenant, model, version, cancellationToken).ConfigureAwait(false) : existing, cancellationToken).ConfigureAwait(false);
        if (!written)
        {
            // Another delivery published this version first. With other bytes, the blob stored above is named by no
            // row (its name holds its hash, and published versions never change): removed, so nothing is orphaned.
            if (createdBlob && outcome.Row?.BlobName != blobName)
            {
                await _storage.Models.DeleteBlobIfExistsAsync(blobName, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            return outcome;
        }

        if (!createdBlob)
        {
            // The blob was there already, so another delivery of these bytes may be the one that stored it; should
            // that delivery have lost and removed it meanwhile, this row would name nothing: stored again.
            await StoreAsync(blobName, bytes, cancellationToken).ConfigureAwait(false);
        }

        _limits.Stored(tenant, newModel, bytes.LongLength);
        LogPublished(tenant, model, version, bytes.LongLength, sha);

        if (!first)
        {
            await _lifecycle.UpdateLatestAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        }

        foreach (var alias in manifest?.Aliases ?? [])
        {
            var move = await _lifecycle.MoveAliasAsync(tenant, model, alias, version, warm: true, cancellationToken).ConfigureAwait(false);
            LogAliasMoved(tenant, model, alias, move.PreviousVersion ?? "(none)", version, string.Join("; ", move.Warmed));
        }

        return new PublishOutcome(ModelStates.Ready, "", row);
    }

    private async Task<(ModelManifest? Manifest, string? Error)> ReadManifestAsync(string tenant, string model, string version, CancellationToken cancellationToken)
    {
        var drop = ModelNames.DropBlobName(tenant, model, version);
        var blob = _storage.Drop.GetBlobClient(drop[..drop.LastIndexOf('/')] + "/model.json");
        try
        {
            var properties = await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            if (properties.Value.ContentLength > ManifestReader.MaxBytes)
            {
                return (null, $"model.json is {properties.Value.ContentLength} bytes, over the limit of {ManifestReader.MaxBytes}");
            }

            var content = await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return ManifestReader.Parse(content.Value.Content.ToMemory().Span);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return (null, null);
        }
    }

    private async Task<PublishOutcome> RejectAsync(string tenant, string model, string version, string sha, string reason, ModelVersionEntity? existing, CancellationToken cancellationToken)
    {
        if (IsPublished(existing))
        {
            // A published version is never replaced by a rejection: the refusal is noted on it instead.
            return await AgainstPublishedAsync(existing!, sha, reason, cancellationToken).ConfigureAwait(false);
        }

        LogRejected(tenant, model, version, reason);
        var row = new ModelVersionEntity
        {
            PartitionKey = ModelNames.ModelKey(tenant, model),
            RowKey = version,
            Tenant = tenant,
            Model = model,
            Version = version,
            State = ModelStates.Rejected,
            Error = reason,
            Sha256 = sha,
            PublishedAt = _time.GetUtcNow(),
        };
        var (_, outcome) = await WriteAsync(row, existing, cancellationToken).ConfigureAwait(false);
        return outcome;
    }

    /// <summary>
    /// Writes a version row only where it may go: inserted when there is none (409 = another delivery was first),
    /// replacing a Rejected row only under the ETag it was read with (412 = it changed since). On a conflict the row is
    /// read again and the decision taken again on what is there now; a row that has become Ready or Retired meanwhile
    /// is left as it is. <c>Written</c> is false when the row is not this write's.
    /// </summary>
    private async Task<(bool Written, PublishOutcome Outcome)> WriteAsync(ModelVersionEntity row, ModelVersionEntity? existing, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxWriteAttempts; attempt++)
        {
            if (IsPublished(existing))
            {
                var reason = row.State == ModelStates.Rejected ? row.Error : null;
                return (false, await AgainstPublishedAsync(existing!, row.Sha256, reason, cancellationToken).ConfigureAwait(false));
            }

            var written = existing is null
                ? await _registry.TryInsertAsync(row, cancellationToken).ConfigureAwait(false)
                : await _registry.TryReplaceAsync(row, existing.ETag, cancellationToken).ConfigureAwait(false);
            if (written)
            {
                return (true, new PublishOutcome(row.State, row.Error, row));
            }

            existing = await _registry.GetAsync(row.Tenant, row.Model, row.Version, cancellationToken).ConfigureAwait(false);
        }

        // Only a storm of writers gets here; the exception makes the trigger deliver the drop again later.
        throw new InvalidOperationException($"the registry row of {row.Tenant}/{row.Model}/{row.Version} changed {MaxWriteAttempts} times while this drop was written; the drop will be tried again");
    }

    /// <summary>
    /// A drop at a version that is already published (Ready or Retired): the same bytes are idempotent; anything else is
    /// refused, naming the version, and the published row and its blob stay exactly as they are. The refusal is noted on
    /// the row (<see cref="ModelVersionEntity.DropError"/>, only those two fields, under the row's ETag) where the one
    /// who dropped it looks for the verdict.
    /// </summary>
    private async Task<PublishOutcome> AgainstPublishedAsync(ModelVersionEntity existing, string sha, string? reason, CancellationToken cancellationToken)
    {
        if (sha.Length > 0 && existing.Sha256 == sha)
        {
            // The same bytes dropped again: publishing is idempotent. It is also the repair pass of a publish cut short
            // after its Ready row (the drop has no receipt, so it fires again): the `latest` alias, written after the
            // row, is brought up to date.
            if (existing.State == ModelStates.Ready)
            {
                await _lifecycle.UpdateLatestAsync(existing.Tenant, existing.Model, cancellationToken).ConfigureAwait(false);
            }

            return new PublishOutcome(existing.State, "", existing);
        }

        var what = reason is not null ? $"this drop was refused ({reason})" : $"this drop has different bytes (sha256 {sha[..Math.Min(12, sha.Length)]}…)";
        var message = $"version '{existing.Version}' of model '{existing.Model}' is already published ({existing.State}, sha256 {existing.Sha256[..Math.Min(12, existing.Sha256.Length)]}…) and versions are immutable: {what}; the published version is unchanged, publish a new version";
        LogRejected(existing.Tenant, existing.Model, existing.Version, message);
        var row = existing;
        for (var attempt = 0; attempt < MaxWriteAttempts && row is not null && IsPublished(row); attempt++)
        {
            var note = new TableEntity(row.PartitionKey, row.RowKey)
            {
                [nameof(ModelVersionEntity.DropSha256)] = sha,
                [nameof(ModelVersionEntity.DropError)] = message,
            };
            try
            {
                await _storage.ModelsTable.UpdateEntityAsync(note, row.ETag, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
                await _registry.ChangedAsync(row.Tenant, row.Model, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (RequestFailedException e) when (e.Status is 404 or 412)
            {
                // Retired, aliased or noted meanwhile: noted again on the row as it is now (gone: nothing to note on).
                row = await _registry.GetAsync(row.Tenant, row.Model, row.Version, cancellationToken).ConfigureAwait(false);
            }
        }

        return new PublishOutcome(ModelStates.Rejected, message, existing);
    }

    private static bool IsPublished(ModelVersionEntity? row) => row is { State: ModelStates.Ready or ModelStates.Retired };

    /// <summary>Stores the served bytes; true when this call created the blob, false when it was there already.</summary>
    private async Task<bool> StoreAsync(string blobName, byte[] bytes, CancellationToken cancellationToken)
    {
        try
        {
            // Content-addressed and immutable: never overwrite; an existing blob has these very bytes.
            await _storage.Models.GetBlobClient(blobName).UploadAsync(
                new BinaryData(bytes),
                new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } },
                cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return false;
        }
    }

    private async Task<byte[]?> ReadAsync(Stream content, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await content.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > _options.MaxModelBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Published {Tenant}/{Model}/{Version}: {Bytes} bytes, sha256 {Sha256}")]
    private partial void LogPublished(string tenant, string model, string version, long bytes, string sha256);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected {Tenant}/{Model}/{Version}: {Reason}")]
    private partial void LogRejected(string tenant, string model, string version, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Alias {Alias} of {Tenant}/{Model}: {Previous} -> {Version} (warm-up: {Warmed})")]
    private partial void LogAliasMoved(string tenant, string model, string alias, string previous, string version, string warmed);
}
