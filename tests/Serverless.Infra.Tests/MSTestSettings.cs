// The Bicep CLI runs once for build and once for lint (each ~1-2 s); the other tests share the results.
[assembly: Parallelize(Workers = 0, Scope = ExecutionScope.MethodLevel)]

namespace Serverless.Infra.Tests;

[TestClass]
public static class InfraTestRun
{
    [AssemblyCleanup]
    public static void Cleanup() => BicepCli.DeleteOutput();
}
