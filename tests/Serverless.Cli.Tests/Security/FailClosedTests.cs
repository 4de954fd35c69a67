using System.Diagnostics;
using Serverless.Cli.Cluster;

namespace Serverless.Cli.Tests.Security;

/// <summary>An app that sends or trusts the internal key refuses to start without it, naming the setting.</summary>
[TestClass]
public sealed class FailClosedTests
{
    [TestMethod]
    [Timeout(120_000)]
    [DataRow("shard")]
    [DataRow("router")]
    [DataRow("publisher")]
    public async Task AnAppWithoutTheInternalKey_ExitsNonZero_NamingTheSetting(string app)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { LocalCluster.LocalHostPath, "--app", app, "--port", "0" })
        {
            start.ArgumentList.Add(arg);
        }

        // Everything else an app needs, so the missing key is what stops it (storage is never reached first).
        start.Environment["Storage__ConnectionString"] = "UseDevelopmentStorage=true";
        start.Environment["Shard__Id"] = "shard-failclosed";
        start.Environment["Shard__BaseUrl"] = "http://127.0.0.1:1/";
        start.Environment["Internal__ShardKey"] = "";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the {app} without a key was still running after 60 s");
        }

        var text = await output + await errors;
        Assert.AreNotEqual(0, process.ExitCode, text);
        StringAssert.Contains(text, "Internal__ShardKey is not set", text);
    }

    [TestMethod]
    public void TheCliWithoutTheInternalKey_RefusesItsShardCalls_NamingTheSetting()
    {
        // The CLI's lifecycle commands warm replicas with the internal key: built without one, they refuse before any call.
        using var services = Commands.CliServices.Create(Cluster.SharedCluster.Instance.State.Storage, internalKey: null);
        var refused = Assert.ThrowsExactly<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Serverless.Publishing.ModelLifecycle>(services));
        StringAssert.Contains(refused.Message, "Internal__ShardKey is not set");
    }
}
