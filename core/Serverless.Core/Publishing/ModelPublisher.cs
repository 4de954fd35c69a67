using System.Security.Cryptography;
using Azure;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.Core.Scoring;
using Serverless.Core.Storage;

namespace Serverless.Core.Publishing;

/// <summary>
/// Turns a file dropped at <c>model-drop/{tenant}/{model}/{version}/model.onnx</c> into a served model:
/// validate (ONNX Runtime must open it) → store immutably in <c>models</c> → register in Table
/// <c>models</c>. A file that fails leaves the dropped blob in place and a <c>Rejected</c> row saying why.
/// </summary>
public sealed partial class ModelPublisher
{
    private readonly StorageClients _storage;
    private readonly ModelRegistry _registry;
    private readonly OrtRuntime _runtime;
    private readonly PublisherOptions _options;
    private readonly ILogger<ModelPublisher> _logger;

    public ModelPublisher(StorageClients storage, ModelRegistry registry, OrtRuntime runtime, IOptions<PublisherOptions> options, ILogger<ModelPublisher> logger)
    {
        _storage = storage;
        _registry = registry;
        _runtime = runtime;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Publishes the dropped bytes of one model version.</summary>
    public async Task<PublishOutcome> PublishAsync(string tenant, string model, string version, Stream content, CancellationToken cancellationToken)
    {
        var nameError = ModelNames.CheckTenant(tenant) ?? ModelNames.CheckModel(model) ?? ModelNames.CheckVersion(version);
        if (nameError is not null)
        {
            // The names cannot key a registry row; the dropped blob stays where it is for the owner to see.
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
        if (existing is { State: ModelStates.Ready })
        {
            if (existing.Sha256 == sha)
            {
                // The same bytes dropped again: publishing is idempotent.
                return new PublishOutcome(ModelStates.Ready, "", existing);
            }

            // Versions are immutable: the served version stays as it is.
            var message = $"version '{version}' of model '{model}' already exists with different bytes (sha256 {existing.Sha256[..12]}…); versions are immutable, publish a new version";
            LogRejected(tenant, model, version, message);
            return new PublishOutcome(ModelStates.Rejected, message, existing);
        }

        if (bytes.Length == 0)
        {
            return await RejectAsync(tenant, model, version, sha, "model file is empty", cancellationToken).ConfigureAwait(false);
        }

        ModelSession probe;
        try
        {
            probe = new ModelSession(model, version, _runtime.CreateSession(bytes), bytes.LongLength);
        }
        catch (OnnxRuntimeException e)
        {
            return await RejectAsync(tenant, model, version, sha, $"not a loadable ONNX model: {e.Message}", cancellationToken).ConfigureAwait(false);
        }

        TensorMetadata[] inputs, outputs;
        try
        {
            inputs = ModelSession.ToMetadata(probe.Inputs);
            outputs = ModelSession.ToMetadata(probe.Outputs);
        }
        finally
        {
            probe.Release();
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
            Pool = "cpu",
            PublishedAt = DateTimeOffset.UtcNow,
        };
        await _registry.UpsertAsync(row, cancellationToken).ConfigureAwait(false);
        LogPublished(tenant, model, version, bytes.LongLength, sha);
        return new PublishOutcome(ModelStates.Ready, "", row);
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
            PublishedAt = DateTimeOffset.UtcNow,
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
}
