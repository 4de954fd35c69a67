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
                return await RejectAsync(tenant, model, version, "", nameError, cancellationToken).ConfigureAwait(false);
            }

            LogRejected(tenant, model, version, nameError);
            return new PublishOutcome(ModelStates.Rejected, nameError, null);
        }

        var bytes = await ReadAsync(content, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return await RejectAsync(tenant, model, version, "", $"model file is over the limit of {_options.MaxModelBytes} bytes", cancellationToken).ConfigureAwait(false);
        }

        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var existing = await _registry.GetAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        if (existing is { State: ModelStates.Ready or ModelStates.Retired })
        {
            if (existing.Sha256 == sha)
            {
                // The same bytes dropped again: publishing is idempotent. It is also the repair pass of a
                // publish cut short after its Ready row (the drop has no receipt, so it fires again): the
                // `latest` alias, written after the row, is brought up to date.
                if (existing.State == ModelStates.Ready)
                {
                    await _lifecycle.UpdateLatestAsync(tenant, model, cancellationToken).ConfigureAwait(false);
                }

                return new PublishOutcome(existing.State, "", existing);
            }

            // Versions are immutable: the served version stays as it is, and the refusal is recorded on it.
            var message = $"version '{version}' of model '{model}' already exists with different bytes (sha256 {existing.Sha256[..12]}…); versions are immutable, publish a new version";
            LogRejected(tenant, model, version, message);
            existing.DropSha256 = sha;
            existing.DropError = message;
            await _storage.ModelsTable.UpdateEntityAsync(existing, ETag.All, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
            await _registry.ChangedAsync(tenant, model, cancellationToken).ConfigureAwait(false);
            return new PublishOutcome(ModelStates.Rejected, message, existing);
        }

        // Before the file is opened: a tenant over its limits costs no ONNX Runtime session.
        var (overLimit, newModel) = await _limits.CheckAsync(tenant, model, version, bytes.LongLength, cancellationToken).ConfigureAwait(false);
        if (overLimit is not null)
        {
            return await RejectAsync(tenant, model, version, sha, overLimit, cancellationToken).ConfigureAwait(false);
        }

        var (manifest, manifestError) = await ReadManifestAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        if (manifestError is not null)
        {
            return await RejectAsync(tenant, model, version, sha, manifestError, cancellationToken).ConfigureAwait(false);
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
            return await RejectAsync(tenant, model, version, sha, validation, cancellationToken).ConfigureAwait(false);
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
        try
        {
            // Content-addressed and immutable: never overwrite; an existing blob has these very bytes.
            await _storage.Models.GetBlobClient(blobName).UploadAsync(
                new BinaryData(bytes),
                new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } },
                cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
        }

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
        await _registry.UpsertAsync(row, cancellationToken).ConfigureAwait(false);
        _limits.Stored(tenant, newModel, bytes.LongLength);
        LogPublished(tenant, model, version, bytes.LongLength, sha);

        await _lifecycle.UpdateLatestAsync(tenant, model, cancellationToken).ConfigureAwait(false);
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

    private async Task<PublishOutcome> RejectAsync(string tenant, string model, string version, string sha, string reason, CancellationToken cancellationToken)
    {
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
        await _registry.UpsertAsync(row, cancellationToken).ConfigureAwait(false);
        return new PublishOutcome(ModelStates.Rejected, reason, row);
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
