using BenchmarkDotNet.Running;

// dotnet run -c Release --project tools/Serverless.Benchmarks -- --filter '*' [--job short]
BenchmarkSwitcher.FromAssembly(typeof(Serverless.Benchmarks.CodecBenchmarks).Assembly).Run(args);
