using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Serverless.ModelBuilder;
using Serverless.Onnx;
using Serverless.Publishing;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>
/// The publisher's validator children, real processes (the local host started with <c>--serverless-validator</c>,
/// as the publisher starts its own program): reused, replaced when one dies mid-validation, and killed with a clear
/// rejection when a model takes one past its memory limit, the pool going on with the next model either way.
/// </summary>
[TestClass]
public sealed class ModelValidatorPoolTests
{
    private static ValidatorCommand LocalHost() => new("dotnet", [Path.Combine(AppContext.BaseDirectory, "Serverless.LocalHost.dll")]);

    private static ModelValidatorPool Pool(long memoryBytes = 1L << 30) =>
        new(Options.Create(new PublisherOptions { ValidatorProcesses = 1, ValidatorMemoryBytes = memoryBytes, ValidatorTimeoutSeconds = 60 }), NullLogger<ModelValidatorPool>.Instance, LocalHost());

    [TestMethod]
    [Timeout(60_000)]
    public async Task AChild_ValidatesModelAfterModel_AndIsReused()
    {
        using var pool = Pool();
        var first = await pool.ValidateAsync(DemoModels.Linear(), "linear", "1", CancellationToken.None);
        var child = pool.IdleProcessIds.Single();
        var second = await pool.ValidateAsync(DemoModels.TwoInputs(), "two", "1", CancellationToken.None);
        var refused = await pool.ValidateAsync([1, 2, 3], "junk", "1", CancellationToken.None);

        Assert.IsNull(first.Error);
        Assert.AreEqual("x", first.Inputs.Single().Name);
        Assert.IsNull(second.Error);
        Assert.AreEqual(2, second.Inputs.Length);
        StringAssert.Contains(refused.Error, "not a loadable ONNX model");
        Assert.AreEqual(child, pool.IdleProcessIds.Single(), "one child served all three");
    }

    [TestMethod]
    [Timeout(60_000)]
    public async Task AChildKilledMidValidation_IsReplaced_AndTheModelValidatedInAFreshOne()
    {
        using var pool = Pool();
        var killed = new List<int>();
        pool.Validating += pid =>
        {
            // The injected fault: the first child dies the moment it is handed the model.
            if (killed.Count == 0)
            {
                killed.Add(pid);
                using var victim = Process.GetProcessById(pid);
                victim.Kill();
                victim.WaitForExit(10_000);
            }
        };

        var result = await pool.ValidateAsync(DemoModels.Linear(), "linear", "1", CancellationToken.None);

        Assert.IsNull(result.Error, "a fresh child validated the model");
        Assert.AreEqual("x", result.Inputs.Single().Name);
        Assert.AreNotEqual(killed.Single(), pool.IdleProcessIds.Single(), "the dead child was replaced");
        Assert.IsNull((await pool.ValidateAsync(DemoModels.TwoInputs(), "two", "1", CancellationToken.None)).Error, "and the pool goes on");
    }

    [TestMethod]
    [Timeout(120_000)]
    public async Task AModelThatTakesTheChildPastItsMemoryLimit_IsRejectedNamingIt_AndTheNextModelIsValidated()
    {
        // 2^27 floats (512 MiB) that ONNX Runtime builds by constant folding when it opens the model: within the
        // reader's bounds, and a few hundred bytes of file, so only the child's native memory shows it.
        var bloated = new OnnxModelBuilder("bloat")
            .AddInput("x", OnnxElementType.Float, 1L)
            .AddOutput("y", OnnxElementType.Float, 1L << 27)
            .AddInitializer("shape", [1L << 27], 1)
            .AddNode("ConstantOfShape", ["shape"], ["zeros"])
            .AddNode("Add", ["x", "zeros"], ["y"])
            .ToBytes();
        Assert.IsNull(OnnxModelReader.Read(bloated).Unbounded, "the reader lets it through: the limit is the child's");
        using var pool = Pool(memoryBytes: 256L << 20);

        var result = await pool.ValidateAsync(bloated, "bloat", "1", CancellationToken.None);
        var next = await pool.ValidateAsync(DemoModels.Linear(), "linear", "1", CancellationToken.None);

        StringAssert.Contains(result.Error, "Publisher__ValidatorMemoryBytes");
        Assert.IsNull(next.Error, "the next model is validated by a fresh child");
    }
}
