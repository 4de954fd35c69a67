using System.Security.Cryptography;
using Azure;
using Azure.Storage.Blobs.Models;
using Serverless.Core.Naming;
using Serverless.Core.Registry;
using Serverless.Core.Storage;

namespace Serverless.Publishing;

/// <summary>
/// <c>serverless fsck</c> (issue 16): reads the whole registry and the whole <c>models</c> container once and reports
/// what does not agree: rows without bytes or without their blob, blobs no row names, aliases pointing at versions
/// that are gone or not Ready, a stale <c>latest</c>. With repair it fixes what can be fixed without guessing: a
/// missing blob is restored from the drop when the dropped file still has the row's SHA-256; an orphaned blob older
/// than <see cref="OrphanAge"/> is deleted; <c>latest</c> is recomputed; any other dangling alias is removed (requests
/// without a version then get the highest Ready version, as with no alias). Each repair goes to the audit log.
/// </summary>
public sealed class RegistryCheck
{
    /// <summary>
    /// A blob without a row is left alone until this old: a publish uploads its blob before it writes its row, so a
    /// younger one may belong to a publish under way.
    /// </summary>
    public static readonly TimeSpan OrphanAge = TimeSpan.FromMinutes(15);

    private readonly StorageClients _storage;
    private readonly ModelRegistry _registry;
    private readonly ModelLifecycle _lifecycle;
    private readonly TimeProvider _time;

    public RegistryCheck(StorageClients storage, ModelRegistry registry, ModelLifecycle lifecycle, TimeProvider time)
    {
        _storage = storage;
        _registry = registry;
        _lifecycle = lifecycle;
        _time = time;
    }

    /// <summary>Every finding, repaired where <paramref name="repair"/> asks and it can be.</summary>
    public async Task<IReadOnlyList<RegistryFinding>> RunAsync(bool repair, CancellationToken cancellationToken)
    {
        var findings = new List<RegistryFinding>();
        var partitions = new Dictionary<string, List<ModelVersionEntity>>(StringComparer.Ordinal);
        await foreach (var row in _storage.ModelsTable.QueryAsync<ModelVersionEntity>(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (!partitions.TryGetValue(row.PartitionKey, out var rows))
            {
                partitions[row.PartitionKey] = rows = [];
            }

            rows.Add(row);
        }

        var blobs = new Dictionary<string, BlobItem>(StringComparer.Ordinal);
        await foreach (var blob in _storage.Models.GetBlobsAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            blobs[blob.Name] = blob;
        }

        var named = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rows in partitions.Values)
        {
            foreach (var row in rows)
            {
                if (row.IsAlias || row.State is not (ModelStates.Ready or ModelStates.Retired))
                {
                    continue;
                }

                var subject = $"{row.Tenant}/{row.Model}/{row.Version}";
                if (string.IsNullOrEmpty(row.Sha256) || string.IsNullOrEmpty(row.BlobName))
                {
                    findings.Add(new RegistryFinding(RegistryFindingKind.RowWithoutBytes, subject, $"the {row.State} row names no bytes (sha256 '{row.Sha256}', blob '{row.BlobName}')",
                        repair ? "not repaired: nothing says which bytes it had; publish the version again under a new number, or delete it" : null, false));
                    continue;
                }

                named.Add(row.BlobName);
                if (!blobs.ContainsKey(row.BlobName))
                {
                    findings.Add(repair
                        ? await RestoreAsync(row, subject, cancellationToken).ConfigureAwait(false)
                        : new RegistryFinding(RegistryFindingKind.RowWithoutBlob, subject, $"blob '{row.BlobName}' is missing from '{StorageNames.ModelsContainer}'", null, false));
                }
            }

            await CheckAliasesAsync(rows, repair, findings, cancellationToken).ConfigureAwait(false);
        }

        foreach (var (name, blob) in blobs)
        {
            if (named.Contains(name))
            {
                continue;
            }

            var age = blob.Properties.LastModified is { } modified ? _time.GetUtcNow() - modified : TimeSpan.MaxValue;
            var detail = $"no Ready or Retired row names it ({blob.Properties.ContentLength ?? 0:N0} bytes)";
            if (!repair)
            {
                findings.Add(new RegistryFinding(RegistryFindingKind.BlobWithoutRow, name, detail, null, false));
            }
            else if (age < OrphanAge)
            {
                findings.Add(new RegistryFinding(RegistryFindingKind.BlobWithoutRow, name, detail, $"not deleted: written {age.TotalMinutes:0} min ago, and a publish under way writes its blob before its row; run again after {OrphanAge.TotalMinutes:0} min", false));
            }
            else
            {
                await _storage.Models.DeleteBlobIfExistsAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
                findings.Add(new RegistryFinding(RegistryFindingKind.BlobWithoutRow, name, detail, "deleted", true));
            }
        }

        return findings;
    }

    private async Task CheckAliasesAsync(List<ModelVersionEntity> rows, bool repair, List<RegistryFinding> findings, CancellationToken cancellationToken)
    {
        var versions = new Dictionary<string, ModelVersionEntity>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (!row.IsAlias)
            {
                versions[row.RowKey] = row;
            }
        }

        var highest = ModelRegistry.ReadyVersions(rows) is { Count: > 0 } ready ? ready[0] : null;
        foreach (var row in rows)
        {
            if (!row.IsAlias)
            {
                continue;
            }

            var alias = row.RowKey[ModelVersionEntity.AliasPrefix.Length..];
            var (tenant, model) = SplitKey(row.PartitionKey);
            var subject = $"{tenant}/{model}@{alias}";
            var target = versions.GetValueOrDefault(row.Version);
            if (alias == ModelRegistry.LatestAlias)
            {
                if (row.Version == highest)
                {
                    continue;
                }

                var detail = $"points at version '{row.Version}'; the highest Ready version is {(highest is null ? "none" : $"'{highest}'")}";
                if (repair)
                {
                    await _lifecycle.UpdateLatestAsync(tenant, model, cancellationToken).ConfigureAwait(false);
                }

                findings.Add(new RegistryFinding(RegistryFindingKind.StaleLatest, subject, detail, repair ? "recomputed" : null, repair));
                continue;
            }

            if (target is { State: ModelStates.Ready })
            {
                continue;
            }

            var seen = target is null ? $"points at version '{row.Version}', which has no row" : $"points at version '{row.Version}', which is {target.State}";
            if (!repair)
            {
                findings.Add(new RegistryFinding(RegistryFindingKind.DanglingAlias, subject, seen, null, false));
                continue;
            }

            try
            {
                // Under the alias row's ETag: an alias moved meanwhile is someone else's decision, not this repair's.
                await _storage.ModelsTable.DeleteEntityAsync(row.PartitionKey, row.RowKey, row.ETag, cancellationToken).ConfigureAwait(false);
                await _registry.ChangedAsync(tenant, model, cancellationToken).ConfigureAwait(false);
                findings.Add(new RegistryFinding(RegistryFindingKind.DanglingAlias, subject, seen, "alias removed: requests without a version now get the highest Ready version; point it again with `serverless alias`", true));
            }
            catch (RequestFailedException e) when (e.Status is 404 or 412)
            {
                findings.Add(new RegistryFinding(RegistryFindingKind.DanglingAlias, subject, seen, "not repaired: the alias changed while fsck ran; run it again", false));
            }
        }
    }

    /// <summary>Puts a missing blob back from the drop, when the dropped file still has the row's bytes.</summary>
    private async Task<RegistryFinding> RestoreAsync(ModelVersionEntity row, string subject, CancellationToken cancellationToken)
    {
        var detail = $"blob '{row.BlobName}' is missing from '{StorageNames.ModelsContainer}'";
        var drop = _storage.Drop.GetBlobClient(ModelNames.DropBlobName(row.Tenant, row.Model, row.Version));
        try
        {
            var content = await drop.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            var bytes = content.Value.Content;
            if (!string.Equals(Convert.ToHexStringLower(SHA256.HashData(bytes.ToMemory().Span)), row.Sha256, StringComparison.Ordinal))
            {
                return new RegistryFinding(RegistryFindingKind.RowWithoutBlob, subject, detail, "not repaired: the dropped file has other bytes than the row's SHA-256; publish a new version or delete this one", false);
            }

            await _storage.Models.GetBlobClient(row.BlobName).UploadAsync(bytes, new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken).ConfigureAwait(false);
            return new RegistryFinding(RegistryFindingKind.RowWithoutBlob, subject, detail, "restored from the drop (same SHA-256)", true);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return new RegistryFinding(RegistryFindingKind.RowWithoutBlob, subject, detail, "not repaired: the dropped file is gone too; publish the version again under a new number, or delete it", false);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return new RegistryFinding(RegistryFindingKind.RowWithoutBlob, subject, detail, "restored meanwhile by someone else", true);
        }
    }

    private static (string Tenant, string Model) SplitKey(string partitionKey)
    {
        var at = partitionKey.IndexOf('~', StringComparison.Ordinal);
        return at < 0 ? (partitionKey, "") : (partitionKey[..at], partitionKey[(at + 1)..]);
    }
}
