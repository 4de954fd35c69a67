using Serverless.Scoring;

namespace Serverless.Publishing;

/// <summary>
/// The validator child's side: the publisher's host started again with <see cref="Argument"/> first (both the
/// Functions app's and the local host's <c>Program.cs</c> hand over to <see cref="RunAsync"/> before building a
/// host). It validates one model after another from its standard input until the publisher closes it; whatever a
/// model does to ONNX Runtime here (a native crash, memory past the limit the publisher watches) ends this process
/// only.
/// </summary>
public static class ModelValidatorWorker
{
    public const string Argument = "--serverless-validator";

    public static bool IsRequested(string[] args) => args is [Argument, ..];

    /// <summary>Serves requests until the input ends; 0 then.</summary>
    public static async Task<int> RunAsync(Stream input, Stream output, CancellationToken cancellationToken)
    {
        using var runtime = new OrtRuntime();
        while (await ValidatorProtocol.ReadRequestAsync(input, cancellationToken).ConfigureAwait(false) is { } request)
        {
            ModelValidationResult result;
            try
            {
                result = request.Model is { } model
                    ? ModelCheck.Run(model, request.Name, request.Version, runtime)
                    : ModelValidationResult.Refused(OutOfMemory(request.Length));
            }
            catch (OutOfMemoryException)
            {
                result = ModelValidationResult.Refused(OutOfMemory(request.Length));
            }

            await ValidatorProtocol.WriteAnswerAsync(output, result, cancellationToken).ConfigureAwait(false);
        }

        return 0;
    }

    private static string OutOfMemory(long length) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"opening the model ({length:N0} bytes) took more managed memory than the validator may use (Publisher__ValidatorMemoryBytes)");

    /// <summary>For <c>Program.cs</c>: runs the worker on the process's standard streams.</summary>
    public static async Task<int> RunOnConsoleAsync()
    {
        await using var input = Console.OpenStandardInput();
        await using var output = Console.OpenStandardOutput();
        return await RunAsync(input, output, CancellationToken.None).ConfigureAwait(false);
    }
}
