namespace Serverless.Scoring;

/// <summary>
/// One model's traffic on this shard over an interval: the requests served and the time they spent being
/// served (from holding the resident session to the answer: queueing for a run slot, the run, the answer),
/// summed over requests. Busy seconds per second is the model's mean concurrency here (Little's law).
/// </summary>
public readonly record struct ModelTrafficSample(long Requests, double BusySeconds);
