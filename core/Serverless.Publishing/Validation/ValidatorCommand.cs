using System.Reflection;

namespace Serverless.Publishing;

/// <summary>How to start a validator child: by default this very process's program again (see <see cref="ModelValidatorWorker"/>).</summary>
/// <param name="FileName">The executable.</param>
/// <param name="Arguments">Its arguments before <see cref="ModelValidatorWorker.Argument"/>.</param>
public sealed record ValidatorCommand(string FileName, IReadOnlyList<string> Arguments)
{
    /// <summary>
    /// The running program: <c>dotnet app.dll</c> (how the Functions host and the local cluster start the publisher)
    /// or the app's own executable.
    /// </summary>
    public static ValidatorCommand CurrentProcess()
    {
        var path = Environment.ProcessPath ?? "dotnet";
        if (string.Equals(Path.GetFileNameWithoutExtension(path), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            var entry = Assembly.GetEntryAssembly()?.Location;
            if (string.IsNullOrEmpty(entry))
            {
                throw new InvalidOperationException("the publisher's entry assembly has no file, so no validator child can be started; set Publisher__ValidatorProcesses=0 to validate in process");
            }

            return new ValidatorCommand(path, [entry]);
        }

        return new ValidatorCommand(path, []);
    }
}
