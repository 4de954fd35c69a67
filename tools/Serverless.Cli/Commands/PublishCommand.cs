using System.Collections.Concurrent;
using System.CommandLine;
using Serverless.Cli.Publishing;
using Serverless.Core.Naming;
using Serverless.Publishing;
using Serverless.Core.Registry;
using Spectre.Console;

namespace Serverless.Cli.Commands;

/// <summary>
/// <c>serverless publish FILE --model NAME [--version V] [--tenant T] [--manifest model.json]</c> and
/// <c>serverless publish DIR</c> (every <c>*.onnx</c> below it, in parallel, with a progress bar).
/// </summary>
internal static class PublishCommand
{
    /// <summary>
    /// Publishes in flight at once for a folder. Each mostly waits (its upload, the publisher's storage calls and
    /// validation, the verdict's read), so a few dozen keep the publisher and the storage busy; 4 published a folder
    /// of 5,000 tiny models at 4 a second (issue 17).
    /// </summary>
    private const int DefaultParallelism = 32;

    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "An .onnx file, or a folder: every *.onnx below it is published" };
        var model = new Option<string?>("--model") { Description = "Model name (for a file; a folder's models are named after their files)" };
        var version = new Option<string?>("--version") { Description = "Version (default: the next number of each model)" };
        var tenant = new Option<string?>("--tenant") { Description = "Tenant (default: the first in local.json)" };
        var manifest = new Option<FileInfo?>("--manifest") { Description = "model.json to drop beside the model (default: model.json beside model.onnx)" };
        var gpu = new Option<bool>("--gpu") { Description = "Serve from the GPU pool (sets \"gpu\": true in model.json)" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for each verdict", DefaultValueFactory = _ => 120 };
        var parallel = new Option<int>("--parallel") { Description = "Models of a folder published at once", DefaultValueFactory = _ => DefaultParallelism };
        parallel.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 256)
            {
                result.AddError("--parallel must be between 1 and 256");
            }
        });
        var command = new Command("publish", "Publish models through the blob drop and wait for the verdicts") { path, model, version, tenant, manifest, gpu, timeout, parallel };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            var target = parse.GetValue(path)!;
            var tenantName = context.DefaultTenant(parse.GetValue(tenant));
            var versionName = parse.GetValue(version);
            var error = ModelNames.CheckTenant(tenantName) ?? (versionName is null ? null : ModelNames.CheckVersion(versionName));
            List<PublishItem> items;
            if (Directory.Exists(target))
            {
                items = PublishPlanner.Plan(target);
                if (items.Count == 0)
                {
                    error ??= $"no *.onnx file below '{Path.GetFullPath(target)}'";
                }
            }
            else if (File.Exists(target))
            {
                var modelName = parse.GetValue(model);
                error ??= modelName is null ? "--model is required when publishing a file" : ModelNames.CheckModel(modelName);
                var manifestPath = parse.GetValue(manifest)?.FullName;
                if (manifestPath is null && Path.GetFileName(target) == "model.onnx" && File.Exists(Path.ChangeExtension(target, ".json")))
                {
                    manifestPath = Path.ChangeExtension(target, ".json");
                }

                if (manifestPath is not null && !File.Exists(manifestPath))
                {
                    error ??= $"manifest '{manifestPath}' does not exist";
                }

                items = [new PublishItem(Path.GetFullPath(target), modelName ?? "", manifestPath)];
            }
            else
            {
                error ??= $"'{Path.GetFullPath(target)}' is neither a file nor a folder";
                items = [];
            }

            if (error is not null)
            {
                Console.Error.WriteLine($"error: {error}");
                return 2;
            }

            var onGpu = parse.GetValue(gpu);
            using var dropEvents = DropEventNotifier.For(context.State);
            var publisher = new DropPublisher(context.Storage, context.Registry, dropEvents);
            var verdicts = new ConcurrentDictionary<PublishItem, (string Version, PublishOutcome? Outcome, string? Failure)>();
            var wait = TimeSpan.FromSeconds(parse.GetValue(timeout));
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async progress =>
                {
                    // A folder gets one bar counting models: a bar per model redrawn each tick cost more than the publishes.
                    var folder = items.Count > 1
                        ? progress.AddTask(Markup.Escape($"{items.Count:N0} models"), maxValue: items.Count)
                        : null;
                    await Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = items.Count > 1 ? parse.GetValue(parallel) : 1, CancellationToken = cancellationToken }, async (item, ct) =>
                    {
                        var bytes = await File.ReadAllBytesAsync(item.Path, ct).ConfigureAwait(false);
                        var task = folder ?? progress.AddTask(Markup.Escape($"{item.Model} ({bytes.Length:N0} bytes)"), maxValue: Math.Max(1, bytes.Length));
                        var itemVersion = versionName ?? "";
                        try
                        {
                            var manifestBytes = item.ManifestPath is null ? null : await File.ReadAllBytesAsync(item.ManifestPath, ct).ConfigureAwait(false);
                            if (onGpu)
                            {
                                manifestBytes = ManifestFile.WithGpu(manifestBytes);
                            }

                            var uploaded = folder is null ? new Progress<long>(sent => task.Value = sent) : null;
                            PublishOutcome outcome;
                            if (versionName is null)
                            {
                                (itemVersion, outcome) = await publisher.PublishNextAsync(tenantName, item.Model, bytes, manifestBytes, wait, uploaded, ct).ConfigureAwait(false);
                            }
                            else
                            {
                                outcome = await publisher.PublishAsync(tenantName, item.Model, itemVersion, bytes, manifestBytes, wait, uploaded, ct).ConfigureAwait(false);
                            }

                            verdicts[item] = (itemVersion, outcome, null);
                        }
                        catch (Exception e) when (e is TimeoutException or ArgumentException or IOException)
                        {
                            verdicts[item] = (itemVersion, null, e.Message);
                        }
                        finally
                        {
                            if (folder is null)
                            {
                                task.Value = task.MaxValue;
                                task.StopTask();
                            }
                            else
                            {
                                folder.Increment(1);
                            }
                        }
                    }).ConfigureAwait(false);
                    folder?.StopTask();
                }).ConfigureAwait(false);

            var rejected = 0;
            foreach (var item in items)
            {
                var (itemVersion, outcome, failure) = verdicts[item];
                if (outcome is { State: ModelStates.Ready })
                {
                    Console.WriteLine($"Ready: {item.Model} version {itemVersion} (sha256 {outcome.Row?.Sha256})");
                }
                else
                {
                    rejected++;
                    Console.Error.WriteLine(failure is null
                        ? $"Rejected: {item.Model} version {itemVersion}: {outcome?.Error}"
                        : $"error: {item.Model} version {itemVersion}: {failure}");
                }
            }

            if (items.Count > 1)
            {
                var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
                Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{items.Count - rejected} ready, {rejected} rejected in {seconds:F1} s ({items.Count / Math.Max(seconds, 1e-3):F1} models/s)"));
            }

            return rejected == 0 ? 0 : 1;
        });
        return command;
    }
}
