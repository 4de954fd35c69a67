using System.ComponentModel.DataAnnotations;

namespace Serverless.Core.Scoring;

/// <summary>ONNX Runtime settings (section <c>Ort</c>): which execution provider sessions use.</summary>
public sealed class OrtOptions
{
    public const string SectionName = "Ort";

    /// <summary><c>cpu</c>, or <c>cuda</c> (falls back to CPU, with a log line, when CUDA is not there).</summary>
    [RegularExpression("^(cpu|cuda)$")]
    public string ExecutionProvider { get; set; } = "cpu";

    /// <summary>The GPU to use with <c>cuda</c>.</summary>
    [Range(0, 64)]
    public int DeviceId { get; set; }
}
