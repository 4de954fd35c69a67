using System.Globalization;
using System.Text.RegularExpressions;
using Serverless.Cli.Tests.Cluster;
using Serverless.Cli.Tests.Observability;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;
using Serverless.Onnx;

namespace Serverless.Cli.Tests.Security;

/// <summary>
/// Issue 16: a model whose blob bytes are replaced in storage after it was published is never served. The shard hashes
/// the bytes it reads from Blob against the SHA-256 of the version's registry row before ONNX Runtime sees them and
/// before its disk tier keeps them: a mismatch is a 503 naming it (through the router too), counted in
/// <c>serverless.model.hash_mismatches</c>; the swapped model's output never comes back, its bytes never reach a disk
/// tier, and the model is served again once its blob is restored.
/// </summary>
[TestClass]
public sealed partial class SwappedBlobTests
{
    private const string Body = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    [Timeout(90_000)]
    public async Task ABlobSwappedAfterPublish_IsRefusedWith503_NeverServedNorKeptOnDisk_AndServedOnceRestored()
    {
        // A name no test has used, so no shard has it resident; and bytes no other test publishes (Linear with a
        // ModelProto.doc_string of its own appended, field 6), since the disk tier is keyed by SHA-256 and another
        // model with the same bytes would put them there: the first request loads from Blob.
        var model = "swapped-" + Guid.NewGuid().ToString("N")[..8];
        var tag = System.Text.Encoding.UTF8.GetBytes(model);
        byte[] published = [.. DemoModels.Linear(), 0x32, (byte)tag.Length, .. tag];
        var outcome = await Cluster.PublishAsync("demo", model, "1", published);
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
        var row = outcome.Row!;

        // Another valid model with the same signature (x [batch,4] -> y [batch,2]) whose answer differs: y = x · 2s,
        // 20 for the body above, where Linear answers sigmoids below 1. Written over the published blob.
        var swapped = new OnnxModelBuilder("swapped")
            .AddInput("x", OnnxElementType.Float, "batch", 4L)
            .AddOutput("y", OnnxElementType.Float, "batch", 2L)
            .AddInitializer("W", Enumerable.Repeat(2f, 8).ToArray(), 4, 2)
            .AddNode("MatMul", ["x", "W"], ["y"])
            .ToBytes();
        var blob = Cluster.Storage.Models.GetBlobClient(row.BlobName);
        await blob.UploadAsync(new BinaryData(swapped), overwrite: true);

        for (var i = 0; i < 3; i++)
        {
            var (status, body, response) = await Cluster.InferAsync(Cluster.DemoKey, model, Body);
            response.Dispose();
            Assert.AreEqual(503, status, body?.ToJsonString());
            Assert.IsNull(body?["outputs"], $"the swapped model answered: {body?.ToJsonString()}");
            var error = (string?)body?["error"] ?? "";
            StringAssert.Contains(error, "do not match its published SHA-256", "the 503 names the mismatch");
        }

        // A disk write would follow a load off the request's path: give one the time it would take, then look.
        await Task.Delay(500);
        foreach (var shard in Cluster.State.Shards)
        {
            // Under the published hash a tier may only ever hold the published bytes, checked as they were read (the
            // file is the bytes and an 8-byte XxHash3); the swapped ones never.
            var file = Path.Combine(Cluster.Directory.Path, "tier", shard.Id, row.Sha256 + ".onnx");
            if (File.Exists(file))
            {
                var kept = await File.ReadAllBytesAsync(file);
                CollectionAssert.AreEqual(published, kept[..^8], $"{shard.Id} kept other bytes than the published ones in its disk tier under the published hash");
            }
        }

        long mismatches = 0;
        foreach (var shard in Cluster.State.Shards)
        {
            mismatches += Mismatches(await FleetProbe.ScrapeAsync(Cluster, shard.Url), model);
        }

        Assert.IsTrue(mismatches >= 3, $"serverless.model.hash_mismatches for {model}: {mismatches}, expected one per refused load (at least 3)");

        // The refusal is not remembered as a verdict: the restored bytes are served on the next request.
        await blob.UploadAsync(new BinaryData(published), overwrite: true);
        var (restoredStatus, restored, restoredResponse) = await Cluster.InferAsync(Cluster.DemoKey, model, Body);
        restoredResponse.Dispose();
        Assert.AreEqual(200, restoredStatus, restored?.ToJsonString());
        var expected = DemoModels.ComputeLinear([1f, 2f, 3f, 4f]);
        var data = restored!["outputs"]![0]!["data"]!.AsArray().Select(n => (float)n!).ToArray();
        Assert.AreEqual(expected.Length, data.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.AreEqual(expected[i], data[i], 1e-6f, "the published model's answer");
        }
    }

    /// <summary>The shard's <c>serverless.model.hash_mismatches</c> count for one model (0 when it has no series).</summary>
    private static long Mismatches(string prometheusText, string model)
    {
        long sum = 0;
        foreach (Match match in MismatchSample().Matches(prometheusText))
        {
            if (match.Groups["labels"].Value.Contains($"model=\"{model}\"", StringComparison.Ordinal))
            {
                sum += (long)double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    [GeneratedRegex(@"^serverless_model_hash_mismatches(?:_total)?\{(?<labels>[^}]*)\}\s+(?<value>[0-9.eE+]+)", RegexOptions.Multiline)]
    private static partial Regex MismatchSample();
}
