using System.CommandLine;
using Serverless.Cli.Publishing;
using Serverless.Core.Naming;
using Serverless.Core.Registry;

namespace Serverless.Cli.Commands;

/// <summary><c>serverless publish FILE --model NAME [--version V] [--tenant T]</c>.</summary>
internal static class PublishCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "The .onnx file" };
        var model = new Option<string>("--model") { Description = "Model name", Required = true };
        var version = new Option<string?>("--version") { Description = "Version (default: the next number)" };
        var tenant = new Option<string?>("--tenant") { Description = "Tenant (default: the first in local.json)" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the verdict", DefaultValueFactory = _ => 120 };
        var command = new Command("publish", "Publish a model through the blob drop and wait for the verdict") { file, model, version, tenant, timeout };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var context = CliContext.Open();
            if (context is null)
            {
                return 1;
            }

            var path = parse.GetValue(file)!;
            var modelName = parse.GetValue(model)!;
            var tenantName = context.DefaultTenant(parse.GetValue(tenant));
            var nameError = ModelNames.CheckTenant(tenantName) ?? ModelNames.CheckModel(modelName);
            if (nameError is not null)
            {
                Console.Error.WriteLine($"error: {nameError}");
                return 2;
            }

            if (!path.Exists)
            {
                Console.Error.WriteLine($"error: file '{path.FullName}' does not exist");
                return 2;
            }

            var publisher = new DropPublisher(context.Storage, context.Registry);
            var versionName = parse.GetValue(version) ?? await publisher.NextVersionAsync(tenantName, modelName, cancellationToken).ConfigureAwait(false);
            if (ModelNames.CheckVersion(versionName) is { } versionError)
            {
                Console.Error.WriteLine($"error: {versionError}");
                return 2;
            }

            var bytes = await File.ReadAllBytesAsync(path.FullName, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"Dropping {path.Name} ({bytes.Length:N0} bytes) as {tenantName}/{modelName}/{versionName}…");
            try
            {
                var outcome = await publisher.PublishAsync(tenantName, modelName, versionName, bytes, TimeSpan.FromSeconds(parse.GetValue(timeout)), cancellationToken).ConfigureAwait(false);
                if (outcome.State == ModelStates.Ready)
                {
                    Console.WriteLine($"Ready: {modelName} version {versionName} (sha256 {outcome.Row?.Sha256})");
                    return 0;
                }

                Console.Error.WriteLine($"Rejected: {modelName} version {versionName}: {outcome.Error}");
                return 1;
            }
            catch (TimeoutException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
