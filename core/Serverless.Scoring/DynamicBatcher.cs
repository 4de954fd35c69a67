using System.Buffers;
using System.Threading.Channels;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Serverless.Core.Serving;

namespace Serverless.Scoring;

/// <summary>
/// Dynamic batching for one loaded model, as Triton does it: requests whose inputs share a free first
/// (batch) dimension are queued; the first one opens a window of <see cref="BatchingSettings.MaxQueueDelay"/>;
/// the batch runs when the window closes or when <see cref="BatchingSettings.PreferredBatchSize"/> rows are
/// queued, whichever is first. Inputs are stacked along dimension 0, the model runs once, and each caller
/// gets its own rows of every output, written straight from the batch's output spans. Requests whose other
/// dimensions differ are batched with their own kind. If the outputs do not keep the batch in dimension 0,
/// each request runs alone.
/// </summary>
public sealed class DynamicBatcher
{
    private readonly ModelSession _session;
    private readonly BatchingSettings _settings;
    private readonly TimeProvider _time;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<Pending> _deferred = [];
    private readonly SemaphoreSlim _runSlots;
    private int _runs;

    public DynamicBatcher(ModelSession session, BatchingSettings settings, TimeProvider time)
    {
        _session = session;
        _settings = settings;
        _time = time;
        _runSlots = new SemaphoreSlim(Math.Max(1, settings.MaxConcurrentRuns));
        _ = Task.Run(LoopAsync);
    }

    /// <summary>How many times the model has run (tests compare it with the requests served).</summary>
    public int RunCount => Volatile.Read(ref _runs);

    /// <summary>True when a model can be batched: every input and output a non-string tensor with a free first dimension.</summary>
    public static bool CanBatch(ModelSession session)
    {
        foreach (var t in session.Inputs)
        {
            if (!IsBatchable(t))
            {
                return false;
            }
        }

        foreach (var t in session.Outputs)
        {
            if (!IsBatchable(t))
            {
                return false;
            }
        }

        return session.Inputs.Length > 0;

        static bool IsBatchable(SessionTensor t) =>
            t.ValueType == OnnxValueType.ONNX_TYPE_TENSOR && t.ElementType != TensorElementType.String && t.Shape.Length > 0 && t.Shape[0] < 0;
    }

    /// <summary>Queues a checked request and returns its v2 answer once its batch has run.</summary>
    public Task<byte[]> RunAsync(InferenceRequest request, string[] outputNames, string model, string version, CancellationToken cancellationToken) =>
        RunAsync(request, outputNames, model, version, long.MaxValue, capFromModel: false, cancellationToken);

    /// <summary>
    /// Queues a checked request and returns its v2 answer once its batch has run; its rows' outputs over
    /// <paramref name="maxOutputBytes"/> fail it with 400 naming the cap (<see cref="TensorCodec.CheckOutputSize"/>).
    /// </summary>
    public Task<byte[]> RunAsync(InferenceRequest request, string[] outputNames, string model, string version, long maxOutputBytes, bool capFromModel, CancellationToken cancellationToken)
    {
        TensorCodec.Validate(_session, request);
        var ordered = new InputTensor[_session.Inputs.Length];
        long rows = -1;
        for (var i = 0; i < ordered.Length; i++)
        {
            var name = _session.Inputs[i].Name;
            ordered[i] = request.Inputs.Find(t => t.Name == name)
                ?? throw new ServingException(ServingErrorCode.InvalidArgument, $"input '{name}' is missing; model '{model}' needs: {string.Join(", ", _session.Inputs.Select(t => t.Name))}");
            var first = ordered[i].Shape.Length > 0 ? ordered[i].Shape[0] : -1;
            if (rows >= 0 && first != rows)
            {
                throw new ServingException(ServingErrorCode.InvalidArgument, $"inputs of model '{model}' must have the same first (batch) dimension; '{name}' has {first}, not {rows}");
            }

            rows = first;
        }

        var pending = new Pending(ordered, rows, Signature(ordered), outputNames, request.Id, model, version, _time.GetTimestamp()) { MaxOutputBytes = maxOutputBytes, CapFromModel = capFromModel };
        cancellationToken.Register(static p => ((Pending)p!).Completion.TrySetCanceled(), pending);
        _queue.Writer.TryWrite(pending);
        return pending.Completion.Task;
    }

    /// <summary>Stops the loop once the queue is empty (the session is going away).</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private async Task LoopAsync()
    {
        var reader = _queue.Reader;
        while (true)
        {
            // A batch is formed only when a run slot is free: while every slot runs, requests pile up
            // in the queue and the next batch is the fuller for it.
            await _runSlots.WaitAsync().ConfigureAwait(false);
            Pending first;
            if (_deferred.Count > 0)
            {
                first = _deferred[0];
                _deferred.RemoveAt(0);
            }
            else
            {
                if (!await reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    return;
                }

                if (!reader.TryRead(out first!))
                {
                    _runSlots.Release();
                    continue;
                }
            }

            var batch = new List<Pending> { first };
            var rows = first.Rows;
            var target = Math.Min(_settings.PreferredBatchSize, _settings.MaxBatchSize);

            // Requests deferred earlier (other shapes) that fit this batch join it first.
            for (var i = 0; i < _deferred.Count && rows < target;)
            {
                if (_deferred[i].Signature == first.Signature && rows + _deferred[i].Rows <= _settings.MaxBatchSize)
                {
                    rows += _deferred[i].Rows;
                    batch.Add(_deferred[i]);
                    _deferred.RemoveAt(i);
                }
                else
                {
                    i++;
                }
            }

            // The window is counted from the first request's arrival, so none waits longer than the delay.
            var deadline = first.EnqueuedAt + (long)(_settings.MaxQueueDelay.TotalSeconds * _time.TimestampFrequency);
            while (rows < target)
            {
                if (reader.TryRead(out var next))
                {
                    if (next.Signature == first.Signature && rows + next.Rows <= _settings.MaxBatchSize)
                    {
                        rows += next.Rows;
                        batch.Add(next);
                    }
                    else
                    {
                        _deferred.Add(next);
                    }

                    continue;
                }

                var remaining = deadline - _time.GetTimestamp();
                if (remaining <= 0)
                {
                    break;
                }

                using var window = new CancellationTokenSource(TimeSpan.FromSeconds((double)remaining / _time.TimestampFrequency), _time);
                try
                {
                    if (!await reader.WaitToReadAsync(window.Token).ConfigureAwait(false))
                    {
                        break;
                    }
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            var batchRows = rows;
            _ = Task.Run(() =>
            {
                try
                {
                    Run(batch, batchRows);
                }
                finally
                {
                    _runSlots.Release();
                }
            });
        }
    }

    private void Run(List<Pending> batch, long rows)
    {
        batch.RemoveAll(p => p.Completion.Task.IsCompleted);
        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            var stacked = new List<InputTensor>(_session.Inputs.Length);
            for (var i = 0; i < _session.Inputs.Length; i++)
            {
                stacked.Add(Stack(batch, i, rows));
            }

            var inputs = TensorCodec.CreateInputs(_session, new InferenceRequest(null, stacked, null), out var inputNames);
            try
            {
                using var runOptions = new RunOptions();
                Interlocked.Increment(ref _runs);
                using var outputs = _session.Session.Run(runOptions, inputNames, inputs, _session.OutputNames);
                if (!KeepsBatch(outputs, rows))
                {
                    RunAlone(batch);
                    return;
                }

                long start = 0;
                foreach (var pending in batch)
                {
                    var selected = new List<OrtValue>(pending.OutputNames.Length);
                    foreach (var name in pending.OutputNames)
                    {
                        selected.Add(outputs[Array.IndexOf(_session.OutputNames, name)]);
                    }

                    var rowStart = start;
                    start += pending.Rows;
                    try
                    {
                        TensorCodec.CheckOutputSize(pending.Model, pending.OutputNames, selected, (double)pending.Rows / rows, pending.MaxOutputBytes, pending.CapFromModel);
                    }
                    catch (ServingException e)
                    {
                        pending.Completion.TrySetException(e);
                        continue;
                    }

                    var buffer = new ArrayBufferWriter<byte>(256);
                    TensorCodec.WriteResponse(buffer, pending.Model, pending.Version, pending.Id, pending.OutputNames, selected, rowStart, pending.Rows);
                    pending.Completion.TrySetResult(buffer.WrittenSpan.ToArray());
                }
            }
            finally
            {
                foreach (var input in inputs)
                {
                    input.Dispose();
                }
            }
        }
        catch (Exception e)
        {
            foreach (var pending in batch)
            {
                pending.Completion.TrySetException(e is OnnxRuntimeException ort
                    ? new ServingException(RunMemoryRefusal.From(ort, pending.Model, _session.RunMemoryBytes) ?? ServingError.ModelFailed($"model '{pending.Model}' failed to run: {e.Message}"), e)
                    : e);
            }
        }
    }

    private void RunAlone(List<Pending> batch)
    {
        foreach (var pending in batch)
        {
            Run([pending], pending.Rows);
        }
    }

    private static bool KeepsBatch(IReadOnlyList<OrtValue> outputs, long rows)
    {
        foreach (var output in outputs)
        {
            var shape = output.GetTensorTypeAndShape().Shape;
            if (shape.Length == 0 || shape[0] != rows)
            {
                return false;
            }
        }

        return true;
    }

    private static InputTensor Stack(List<Pending> batch, int input, long rows)
    {
        var first = batch[0].Inputs[input];
        if (batch.Count == 1)
        {
            return first;
        }

        var total = 0;
        foreach (var pending in batch)
        {
            total += pending.Inputs[input].Data.Length;
        }

        var data = Array.CreateInstance(first.Data.GetType().GetElementType()!, total);
        var offset = 0;
        foreach (var pending in batch)
        {
            var part = pending.Inputs[input].Data;
            Array.Copy(part, 0, data, offset, part.Length);
            offset += part.Length;
        }

        var shape = (long[])first.Shape.Clone();
        shape[0] = rows;
        return new InputTensor(first.Name, first.ElementType, shape, data);
    }

    /// <summary>Requests batch together only when every input's other dimensions and type agree.</summary>
    private static string Signature(InputTensor[] inputs)
    {
        var parts = new string[inputs.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            parts[i] = $"{inputs[i].ElementType}:{string.Join('x', inputs[i].Shape.Skip(1))}";
        }

        return string.Join('|', parts);
    }

    private sealed record Pending(InputTensor[] Inputs, long Rows, string Signature, string[] OutputNames, string? Id, string Model, string Version, long EnqueuedAt)
    {
        public TaskCompletionSource<byte[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long MaxOutputBytes { get; init; } = long.MaxValue;

        public bool CapFromModel { get; init; }
    }
}
