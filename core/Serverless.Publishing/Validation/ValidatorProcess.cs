using System.Diagnostics;
using System.Globalization;

namespace Serverless.Publishing;

/// <summary>
/// One validator child, owned by <see cref="ModelValidatorPool"/>: started with a managed-heap limit, watched for
/// its resident memory and its time while it validates, and killed (by its own process object) past either.
/// </summary>
internal sealed class ValidatorProcess : IDisposable
{
    /// <summary>How often the watchdog reads the child's resident memory while it validates.</summary>
    private static readonly TimeSpan WatchEvery = TimeSpan.FromMilliseconds(20);

    private readonly Process _process;

    private ValidatorProcess(Process process)
    {
        _process = process;
        Id = process.Id;
    }

    /// <summary>The child's process id (kept: it names the child in logs after it is gone).</summary>
    public int Id { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>Resident bytes at the child's highest reading during its last validation.</summary>
    public long PeakResidentBytes { get; private set; }

    public static ValidatorProcess Start(ValidatorCommand command, long memoryLimitBytes)
    {
        var start = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add(ModelValidatorWorker.Argument);
        // The managed heap gets a hard limit (the model's bytes live there); ONNX Runtime's native memory, which an
        // address-space limit cannot bound without breaking the GC's reservations, is what the watchdog reads.
        start.Environment["DOTNET_GCHeapHardLimit"] = memoryLimitBytes.ToString("X", CultureInfo.InvariantCulture);
        start.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(start) ?? throw new InvalidOperationException($"the validator child ({command.FileName}) did not start");
        // Whatever the child says on stderr (ORT's errors) is drained, so a chatty model cannot block it on a full pipe.
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginErrorReadLine();
        return new ValidatorProcess(process);
    }

    /// <summary>
    /// Sends one model and waits for the answer; a failure (the child died, or went past a limit and was killed) is
    /// returned as a reason, with whether the limit says the model itself caused it.
    /// </summary>
    public async Task<(ModelValidationResult? Result, string? Failure, bool ModelsFault)> ValidateAsync(byte[] model, string name, string version, long memoryLimitBytes, TimeSpan timeLimit, CancellationToken cancellationToken)
    {
        PeakResidentBytes = 0;
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var answer = ExchangeAsync(model, name, version, watch.Token);
        var started = Stopwatch.GetTimestamp();
        while (!answer.IsCompleted)
        {
            try
            {
                await Task.WhenAny(answer, Task.Delay(WatchEvery, cancellationToken)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill();
                throw;
            }

            if (answer.IsCompleted)
            {
                break;
            }

            var resident = ResidentBytes();
            PeakResidentBytes = Math.Max(PeakResidentBytes, resident);
            if (resident > memoryLimitBytes)
            {
                Kill();
                await watch.CancelAsync().ConfigureAwait(false);
                await Observe(answer).ConfigureAwait(false);
                return (null, string.Create(CultureInfo.InvariantCulture, $"opening the model took the validator past {memoryLimitBytes:N0} bytes of memory (Publisher__ValidatorMemoryBytes; it was at {resident:N0})"), true);
            }

            if (Stopwatch.GetElapsedTime(started) > timeLimit)
            {
                Kill();
                await watch.CancelAsync().ConfigureAwait(false);
                await Observe(answer).ConfigureAwait(false);
                return (null, string.Create(CultureInfo.InvariantCulture, $"opening the model took the validator longer than {timeLimit.TotalSeconds:0} s (Publisher__ValidatorTimeoutSeconds)"), true);
            }
        }

        ModelValidationResult? result;
        try
        {
            result = await answer.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException or ObjectDisposedException)
        {
            result = null;
        }

        if (result is not null)
        {
            return (result, null, false);
        }

        Kill();
        await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
        return (null, _process.HasExited ? $"the validator process ended with exit code {_process.ExitCode} while opening the model" : "the validator process stopped answering", false);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private async Task<ModelValidationResult?> ExchangeAsync(byte[] model, string name, string version, CancellationToken cancellationToken)
    {
        await ValidatorProtocol.WriteRequestAsync(_process.StandardInput.BaseStream, model, name, version, cancellationToken).ConfigureAwait(false);
        return await ValidatorProtocol.ReadAnswerAsync(_process.StandardOutput.BaseStream, cancellationToken).ConfigureAwait(false);
    }

    private long ResidentBytes()
    {
        try
        {
            _process.Refresh();
            return _process.HasExited ? 0 : _process.WorkingSet64;
        }
        catch (InvalidOperationException)
        {
            return 0;
        }
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
    }

    private static async Task Observe(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidDataException)
        {
        }
    }
}
