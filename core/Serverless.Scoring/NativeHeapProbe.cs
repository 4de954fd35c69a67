using System.Runtime.InteropServices;

namespace Serverless.Scoring;

/// <summary>
/// Reads how many bytes the C heap has handed out and not taken back (glibc's <c>mallinfo2</c>: in-use
/// chunks of every arena plus mmap'd blocks). ONNX Runtime's CPU allocations (initializers, the session's
/// graph and kernels, its arena) all come from there, and the .NET heap does not, so the difference across
/// a session's creation is what the session keeps natively. Measured here, within a few percent of the
/// process's RSS growth per session (docs/benchmarks.md).
/// </summary>
public sealed partial class NativeHeapProbe
{
    private readonly bool _available;

    public NativeHeapProbe()
    {
        _available = OperatingSystem.IsLinux() && TryRead(out _);
    }

    /// <summary>False where there is no glibc (Windows, macOS, musl): the caller estimates instead.</summary>
    public bool IsAvailable => _available;

    /// <summary>Bytes allocated from the C heap now, or -1 when this platform cannot say.</summary>
    public long AllocatedBytes() => _available && TryRead(out var bytes) ? bytes : -1;

    private static bool TryRead(out long bytes)
    {
        try
        {
            var info = MallInfo2();
            bytes = checked((long)(info.InUseBytes + info.MappedBytes));
            return true;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException or OverflowException)
        {
            bytes = -1;
            return false;
        }
    }

    // A plain DllImport: LibraryImport would need unsafe code in this project, and the struct is blittable.
    [DllImport("libc", EntryPoint = "mallinfo2")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern MallocInfo MallInfo2();

    /// <summary>glibc's <c>struct mallinfo2</c> (glibc 2.33 and later): ten <c>size_t</c> fields.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallocInfo
    {
        public readonly nuint Arena;
        public readonly nuint FreeChunks;
        public readonly nuint FastbinBlocks;
        public readonly nuint MappedRegions;
        public readonly nuint MappedBytes;
        public readonly nuint MaxTotalAllocated;
        public readonly nuint FastbinFreeBytes;
        public readonly nuint InUseBytes;
        public readonly nuint FreeBytes;
        public readonly nuint TopReleasable;
    }
}
