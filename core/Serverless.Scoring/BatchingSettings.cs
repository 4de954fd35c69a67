namespace Serverless.Scoring;

/// <summary>
/// A model's dynamic batching (from its model.json): requests arriving within
/// <see cref="MaxQueueDelay"/> of the first are run together, up to <see cref="PreferredBatchSize"/>
/// rows (flushed at once when reached) and never more than <see cref="MaxBatchSize"/> rows. Up to
/// <see cref="MaxConcurrentRuns"/> batches run at once (Triton's instance count): while they all run, the
/// next batch keeps filling, so batching never leaves cores idle that unbatched requests would have used.
/// </summary>
public sealed record BatchingSettings(TimeSpan MaxQueueDelay, int PreferredBatchSize, int MaxBatchSize, int MaxConcurrentRuns = 1);
