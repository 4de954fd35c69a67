using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Serverless.Publishing;

/// <summary>
/// Validation in child processes (issue 16): a bounded pool of <see cref="PublisherOptions.ValidatorProcesses"/>
/// children, each reused for one model after another, each watched for memory
/// (<see cref="PublisherOptions.ValidatorMemoryBytes"/>) and time (<see cref="PublisherOptions.ValidatorTimeoutSeconds"/>).
/// A model that crashes ONNX Runtime natively, or takes the memory, ends its child, not the publisher: over a limit it
/// is rejected naming the limit; a child that died otherwise is replaced and the model tried once more in a fresh
/// one, then rejected with what happened.
/// </summary>
public sealed partial class ModelValidatorPool : IModelValidator, IDisposable
{
    private readonly ValidatorCommand _command;
    private readonly long _memoryLimit;
    private readonly TimeSpan _timeLimit;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentBag<ValidatorProcess> _idle = [];
    private readonly ILogger<ModelValidatorPool> _logger;

    public ModelValidatorPool(IOptions<PublisherOptions> options, ILogger<ModelValidatorPool> logger)
        : this(options, logger, ValidatorCommand.CurrentProcess())
    {
    }

    public ModelValidatorPool(IOptions<PublisherOptions> options, ILogger<ModelValidatorPool> logger, ValidatorCommand command)
    {
        ArgumentNullException.ThrowIfNull(options);
        _command = command;
        _memoryLimit = options.Value.ValidatorMemoryBytes;
        _timeLimit = TimeSpan.FromSeconds(options.Value.ValidatorTimeoutSeconds);
        _slots = new SemaphoreSlim(Math.Max(1, options.Value.ValidatorProcesses));
        _logger = logger;
    }

    /// <summary>Process ids of the children alive and idle now (for tests and diagnostics).</summary>
    public IReadOnlyList<int> IdleProcessIds => [.. _idle.Where(p => !p.HasExited).Select(p => p.Id)];

    /// <summary>Raised with a child's process id when it starts validating a model (tests use it to inject a fault).</summary>
    public event Action<int>? Validating;

    public async ValueTask<ModelValidationResult> ValidateAsync(byte[] model, string name, string version, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            string? failure = null;
            for (var attempt = 1; attempt <= 2; attempt++)
            {
                var child = TakeIdle() ?? ValidatorProcess.Start(_command, _memoryLimit);
                Validating?.Invoke(child.Id);
                var (result, reason, modelsFault) = await child.ValidateAsync(model, name, version, _memoryLimit, _timeLimit, cancellationToken).ConfigureAwait(false);
                if (result is not null)
                {
                    _idle.Add(child);
                    return result;
                }

                child.Dispose();
                LogChildLost(name, version, child.Id, attempt, reason!);
                if (modelsFault)
                {
                    return ModelValidationResult.Refused(reason!);
                }

                failure = reason;
            }

            return ModelValidationResult.Refused($"{failure}, twice (a fresh validator process was tried after the first): the model cannot be opened safely");
        }
        finally
        {
            _slots.Release();
        }
    }

    public void Dispose()
    {
        while (_idle.TryTake(out var child))
        {
            child.Dispose();
        }

        _slots.Dispose();
    }

    private ValidatorProcess? TakeIdle()
    {
        while (_idle.TryTake(out var child))
        {
            if (!child.HasExited)
            {
                return child;
            }

            child.Dispose();
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Validator process {ProcessId} lost while validating {Model}/{Version} (attempt {Attempt}): {Reason}")]
    private partial void LogChildLost(string model, string version, int processId, int attempt, string reason);
}
