// Test classes run one after another: the integration tests share one cluster and the machine has 2 cores.
[assembly: DoNotParallelize]
