using System.Diagnostics;
using System.Security.Cryptography;
using Azure.Storage.Blobs.Models;
using Serverless.Core.Naming;
using Serverless.Publishing;
using Serverless.Core.Registry;
using Serverless.Core.Storage;

namespace Serverless.Cli.Publishing;

/// <summary>
/// Publishes as a user does: uploads the file into the blob drop (never calls the publisher) and waits
/// for the publisher's verdict in the registry. With a <see cref="DropEventNotifier"/> it also sends the
/// drop's Event Grid event, as Azure's Event Grid subscription does, so the publisher need not find it by listing.
/// </summary>
public sealed class DropPublisher
{
    /// <summary>
    /// The waits between reads of the verdict: short first, since a tiny model's publish takes tens of milliseconds and a
    /// folder publishes only as fast as its verdicts are seen; then every 200 ms, so a slow one costs few reads.
    /// </summary>
    private static readonly TimeSpan[] PollIntervals = [TimeSpan.FromMilliseconds(25), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200)];

    /// <summary>The longest first wait, however slow recent verdicts were: a slow one is then read every 200 ms.</summary>
    private static readonly TimeSpan MaxFirstWait = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long this publisher's recent verdicts took from the drop (a moving average, in stopwatch ticks; 0 before the
    /// first). The first read of a verdict waits three quarters of it: a folder of 100,000 models, 32 in flight, saw
    /// each verdict ~200 ms after its drop, and reading at once and then after 25, 75 and 175 ms cost four reads of
    /// the registry a model, most of the storage emulator's table work while publishing.
    /// </summary>
    private long _typicalVerdictTicks;
    private readonly StorageClients _storage;
    private readonly ModelRegistry _registry;
    private readonly DropEventNotifier? _events;

    public DropPublisher(StorageClients storage, ModelRegistry registry, DropEventNotifier? events = null)
    {
        _storage = storage;
        _registry = registry;
        _events = events;
    }

    private async Task<bool> AliasesInPlaceAsync(string tenant, string model, string version, byte[]? manifest, CancellationToken cancellationToken)
    {
        if (manifest is null || ManifestReader.Parse(manifest).Manifest?.Aliases is not { Count: > 0 } aliases)
        {
            return true;
        }

        _registry.Invalidate(tenant, model);
        var rows = await _registry.GetRowsAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        foreach (var alias in aliases)
        {
            if (!rows.Any(r => r.IsAlias && r.RowKey == ModelVersionEntity.AliasPrefix + alias && r.Version == version))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Publishes <paramref name="content"/> as the model's next version (<see cref="NextVersionAsync"/>): the model's rows
    /// are read once, for the version number, and the new version has no row to check (it is above every numeric one).
    /// </summary>
    public async Task<(string Version, PublishOutcome Outcome)> PublishNextAsync(string tenant, string model, byte[] content, byte[]? manifest, TimeSpan timeout, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var version = await NextVersionAsync(tenant, model, cancellationToken).ConfigureAwait(false);
        return (version, await PublishAsync(tenant, model, version, content, manifest, timeout, progress, knownAbsent: true, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>The version after the highest numeric one the model has, or "1".</summary>
    /// <remarks>
    /// One partition's rows (the model's), read fresh: it used to list every row of the tenant for each model, which
    /// made publishing a folder quadratic in the fleet (issue 17: 5,000 models at 4 a second).
    /// </remarks>
    public async Task<string> NextVersionAsync(string tenant, string model, CancellationToken cancellationToken)
    {
        // A model never published (no latest alias, no version 1) starts at 1, known from two point reads: a query of its
        // partition is a scan of the whole table in Azurite, which made publishing a folder of new models quadratic there.
        if (await _registry.GetAsync(tenant, model, ModelVersionEntity.AliasPrefix + ModelRegistry.LatestAlias, cancellationToken).ConfigureAwait(false) is null
            && await _registry.GetAsync(tenant, model, "1", cancellationToken).ConfigureAwait(false) is null)
        {
            return "1";
        }

        long highest = 0;
        _registry.Invalidate(tenant, model);
        foreach (var row in await _registry.GetRowsAsync(tenant, model, cancellationToken).ConfigureAwait(false))
        {
            if (!row.IsAlias && long.TryParse(row.Version, out var v) && v > highest)
            {
                highest = v;
            }
        }

        return (highest + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Drops the model and waits for its Ready or Rejected row. Throws <see cref="ArgumentException"/> for bad names.</summary>
    public async Task<PublishOutcome> PublishAsync(string tenant, string model, string version, byte[] content, TimeSpan timeout, CancellationToken cancellationToken) =>
        await PublishAsync(tenant, model, version, content, manifest: null, timeout, progress: null, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Drops the model (and its <c>model.json</c> first, when given, since the drop of <c>model.onnx</c> is
    /// what triggers publishing) and waits for the verdict. <paramref name="progress"/> hears bytes uploaded.
    /// </summary>
    public Task<PublishOutcome> PublishAsync(string tenant, string model, string version, byte[] content, byte[]? manifest, TimeSpan timeout, IProgress<long>? progress, CancellationToken cancellationToken) =>
        PublishAsync(tenant, model, version, content, manifest, timeout, progress, knownAbsent: false, cancellationToken);

    /// <remarks><paramref name="knownAbsent"/>: the caller has just read that the version has no row (no read of it here).</remarks>
    private async Task<PublishOutcome> PublishAsync(string tenant, string model, string version, byte[] content, byte[]? manifest, TimeSpan timeout, IProgress<long>? progress, bool knownAbsent, CancellationToken cancellationToken)
    {
        ModelNames.Validate(tenant, model, version);
        var sha = Convert.ToHexStringLower(SHA256.HashData(content));
        var existing = knownAbsent ? null : await _registry.GetAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
        if (existing is { State: ModelStates.Ready or ModelStates.Retired })
        {
            return existing.Sha256 == sha
                ? new PublishOutcome(ModelStates.Ready, "", existing)
                : new PublishOutcome(ModelStates.Rejected, $"version '{version}' of model '{model}' already exists with different bytes; versions are immutable, publish a new version", existing);
        }

        var dropName = ModelNames.DropBlobName(tenant, model, version);
        var manifestBlob = _storage.Drop.GetBlobClient(dropName[..dropName.LastIndexOf('/')] + "/model.json");
        if (manifest is null)
        {
            // A model.json left from an earlier drop of this version would otherwise apply to this one.
            await manifestBlob.DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await manifestBlob.UploadAsync(new BinaryData(manifest), overwrite: true, cancellationToken).ConfigureAwait(false);
        }

        var blob = _storage.Drop.GetBlobClient(dropName);
        var uploaded = await blob.UploadAsync(new BinaryData(content), new BlobUploadOptions { ProgressHandler = progress }, cancellationToken).ConfigureAwait(false);
        if (_events is not null)
        {
            await _events.BlobCreatedAsync(blob.Uri, uploaded.Value.ETag.ToString(), content.Length, cancellationToken).ConfigureAwait(false);
        }

        var deadline = DateTime.UtcNow + timeout;
        var dropped = Stopwatch.GetTimestamp();
        var firstWait = Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _typicalVerdictTicks) * 3 / 4);
        if (firstWait > PollIntervals[0])
        {
            await Task.Delay(firstWait < MaxFirstWait ? firstWait : MaxFirstWait, cancellationToken).ConfigureAwait(false);
        }

        for (var poll = 0; ; poll++)
        {
            var row = await _registry.GetAsync(tenant, model, version, cancellationToken).ConfigureAwait(false);
            if (row is not null && row.Sha256 == sha && row.State is ModelStates.Rejected)
            {
                Learn(dropped);
                return new PublishOutcome(row.State, row.Error, row);
            }

            // Ready, and the aliases model.json asked for are in place (the publisher moves them after
            // writing the Ready row, warming the version first): only then is the publish complete.
            if (row is not null && row.Sha256 == sha && row.State is ModelStates.Ready
                && await AliasesInPlaceAsync(tenant, model, version, manifest, cancellationToken).ConfigureAwait(false))
            {
                Learn(dropped);
                return new PublishOutcome(row.State, row.Error, row);
            }

            if (row is not null && row.DropSha256 == sha && !string.IsNullOrEmpty(row.DropError))
            {
                return new PublishOutcome(ModelStates.Rejected, row.DropError, row);
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no verdict on {tenant}/{model}/{version} within {timeout.TotalSeconds:F0} s: is the publisher running? (the file stays in the drop)");
            }

            await Task.Delay(PollIntervals[Math.Min(poll, PollIntervals.Length - 1)], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Folds one verdict's time since its drop into <see cref="_typicalVerdictTicks"/> (an eighth of it).</summary>
    private void Learn(long dropped)
    {
        var took = Stopwatch.GetTimestamp() - dropped;
        var typical = Interlocked.Read(ref _typicalVerdictTicks);
        // Racing publishes may each overwrite the other's update: an average off by one sample is as good.
        Interlocked.Exchange(ref _typicalVerdictTicks, typical == 0 ? took : typical + (took - typical) / 8);
    }
}
