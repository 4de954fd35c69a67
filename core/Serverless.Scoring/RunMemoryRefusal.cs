using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using Serverless.Core.Serving;

namespace Serverless.Scoring;

/// <summary>
/// Tells a run the shared run arena refused (<see cref="OrtOptions.RunMemoryBytes"/>) from a model failing, by ONNX
/// Runtime's own message (<c>BFCArena::AllocateRawInternal … Available memory of A is smaller than requested bytes of
/// B</c>; the C API reports no code of its own for it): a tensor larger than the whole arena is the request's fault,
/// like an output over its cap (400); one that would fit once other runs finish is the shard's load (503 with
/// <c>Retry-After</c>, which the router retries on the next replica).
/// </summary>
internal static partial class RunMemoryRefusal
{
    public static ServingError? From(OnnxRuntimeException exception, string model, long runMemoryBytes) => From(exception.Message, model, runMemoryBytes);

    /// <summary>The refusal ONNX Runtime's <paramref name="message"/> reports, or null when it reports none.</summary>
    public static ServingError? From(string message, string model, long runMemoryBytes)
    {
        var match = ArenaRefusal().Match(message);
        if (!match.Success
            || !long.TryParse(match.Groups["available"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var available)
            || !long.TryParse(match.Groups["requested"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var requested))
        {
            return null;
        }

        if (runMemoryBytes <= 0 || requested > runMemoryBytes)
        {
            return ServingError.InvalidArgument(string.Create(CultureInfo.InvariantCulture,
                $"model '{model}' asked for a tensor of {requested:N0} bytes while running on this input, more than all runs on a shard may hold together ({runMemoryBytes:N0} bytes, Ort__RunMemoryBytes)"));
        }

        return ServingError.Unavailable(string.Create(CultureInfo.InvariantCulture,
            $"model '{model}' needs a tensor of {requested:N0} bytes while running and the shard's runs leave {available:N0} of their {runMemoryBytes:N0} bytes (Ort__RunMemoryBytes); retry shortly"));
    }

    [GeneratedRegex(@"Available memory of (?<available>\d+) is smaller than requested bytes of (?<requested>\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex ArenaRefusal();
}
