using System.ComponentModel.DataAnnotations;

namespace Serverless.Scoring;

/// <summary>ONNX Runtime settings (section <c>Ort</c>): which execution provider sessions use, and which sessions are compact.</summary>
public sealed class OrtOptions
{
    public const string SectionName = "Ort";

    /// <summary><c>cpu</c>, or <c>cuda</c> (falls back to CPU, with a log line, when CUDA is not there).</summary>
    [RegularExpression("^(cpu|cuda)$")]
    public string ExecutionProvider { get; set; } = "cpu";

    /// <summary>The GPU to use with <c>cuda</c>.</summary>
    [Range(0, 64)]
    public int DeviceId { get; set; }

    /// <summary>
    /// Models whose file is at most this many bytes get compact sessions on the CPU provider: basic graph
    /// optimizations, no per-session memory arena, no memory-pattern planning. A tiny model then keeps ~40 KiB
    /// of native memory instead of ~73 KiB (measured, docs/benchmarks.md), so 20,000 of them fit in one
    /// process; their runs take microseconds either way. 0 turns compact sessions off.
    /// </summary>
    [Range(0, long.MaxValue)]
    public long CompactSessionMaxBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// The most memory every run on the CPU provider may hold at once in ONNX Runtime's own tensors (intermediates
    /// and outputs, not weights): one arena shared by all sessions of the process, so a model whose output size
    /// comes from its input fails inside ONNX Runtime when it asks for more, instead of the process allocating it,
    /// and freed run memory is reused rather than returned to the C heap and asked for again. 0 turns the shared
    /// arena off (each run allocates from the C heap, as compact sessions did before). At most 4 GiB: ONNX Runtime's
    /// C# arena settings take a 32-bit size.
    /// </summary>
    [Range(0, uint.MaxValue)]
    public long RunMemoryBytes { get; set; } = 1L << 30;
}
