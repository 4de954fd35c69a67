using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Serverless.Cli.Cluster;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Cluster;

/// <summary>The CLI as a user runs it: up --detach, the printed curl, publish, models, scale, down.</summary>
[TestClass]
public sealed class CliEndToEndTests
{
    [TestMethod]
    [Timeout(240_000)]
    public async Task UpDetach_PrintedRequestAnswers_PublishRejectsJunk_DownStopsEverything()
    {
        var home = Path.Combine(Path.GetTempPath(), "serverless-cli-" + Guid.NewGuid().ToString("N")[..8]);
        var port = Azurite.FreePort();
        try
        {
            var up = await RunCliAsync(home, "up", "--detach", "--shards", "2", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.AreEqual(0, up.ExitCode, up.Output);
            StringAssert.Contains(up.Output, "curl");
            StringAssert.Contains(up.Output, $"http://127.0.0.1:{port}/v2/models/{LocalCluster.DemoModel}/infer");

            var state = new StateDirectory(home).Read();
            Assert.IsNotNull(state);
            Assert.AreEqual($"http://127.0.0.1:{port}", state.RouterUrl);
            Assert.AreEqual(2, state.Shards.Count);
            Assert.IsTrue(state.Shards.All(s => s.Pid > 0 && s.Url.StartsWith("http://127.0.0.1:", StringComparison.Ordinal)));
            var key = state.Tenants.Single(t => t.Name == "demo").ApiKey;
            StringAssert.Contains(up.Output, key);

            // The request the printed curl line makes.
            using (var http = new HttpClient())
            using (var request = new HttpRequestMessage(HttpMethod.Post, $"{state.RouterUrl}/v2/models/{LocalCluster.DemoModel}/infer"))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                request.Content = new StringContent("""{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""", Encoding.UTF8, "application/json");
                using var response = await http.SendAsync(request);
                var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                Assert.AreEqual(200, (int)response.StatusCode, body.ToJsonString());
                var y = body["outputs"]![0]!["data"]!.AsArray().Select(n => (double)n!).ToArray();
                var expected = 1 / (1 + Math.Exp(-5.5)); // x·W + b = 5.5 for both outputs of the demo model
                Assert.AreEqual(expected, y[0], 1e-6);
                Assert.AreEqual(expected, y[1], 1e-6);
            }

            var junk = Path.Combine(home, "junk.onnx");
            await File.WriteAllTextAsync(junk, "not a model at all");
            var rejected = await RunCliAsync(home, "publish", junk, "--model", "junk");
            Assert.AreNotEqual(0, rejected.ExitCode, rejected.Output);
            StringAssert.Contains(rejected.Output, "Rejected");
            StringAssert.Contains(rejected.Output, "not a loadable ONNX model");

            var badName = await RunCliAsync(home, "publish", junk, "--model", "Bad Name");
            Assert.AreEqual(2, badName.ExitCode, badName.Output);
            StringAssert.Contains(badName.Output, "model name 'Bad Name' is not valid");

            var good = Path.Combine(home, "linear.onnx");
            await File.WriteAllBytesAsync(good, DemoModels.Linear());
            var published = await RunCliAsync(home, "publish", good, "--model", "linear");
            Assert.AreEqual(0, published.ExitCode, published.Output);
            StringAssert.Contains(published.Output, "Ready: linear version 1");
            using (var http = new HttpClient())
            using (var request = new HttpRequestMessage(HttpMethod.Post, $"{state.RouterUrl}/v2/models/linear/infer"))
            {
                request.Headers.TryAddWithoutValidation("x-api-key", key);
                request.Content = new StringContent("""{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","data":[0.5,-1,2,0,3,3,-2,1]}]}""", Encoding.UTF8, "application/json");
                using var response = await http.SendAsync(request);
                var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                Assert.AreEqual(200, (int)response.StatusCode, body.ToJsonString());
                var expected = Scoring.DirectOnnxRuntime.RunFloat(DemoModels.Linear(), "y", ("x", [0.5f, -1f, 2f, 0f, 3f, 3f, -2f, 1f], [2, 4]));
                CollectionAssert.AreEqual(expected, body["outputs"]![0]!["data"]!.AsArray().Select(n => (float)n!).ToArray());
            }


            var models = await RunCliAsync(home, "models");
            Assert.AreEqual(0, models.ExitCode, models.Output);
            StringAssert.Contains(models.Output, "linear");
            StringAssert.Contains(models.Output, "Rejected");

            var scale = await RunCliAsync(home, "scale", "linear", "--replicas", "2");
            Assert.AreEqual(0, scale.ExitCode, scale.Output);

            var placement = await RunCliAsync(home, "placement", "linear");
            Assert.AreEqual(0, placement.ExitCode, placement.Output);
            StringAssert.Contains(placement.Output, "replicas=2");
            StringAssert.Contains(placement.Output, "primary shard-0");
            StringAssert.Contains(placement.Output, "replica shard-0");

            // Pinned resident: the CLI says what the pin means and its budget; each replica's refresh pins it (its log
            // says so) and the pin leaves the row's replica count as it was.
            var pin = await RunCliAsync(home, "scale", "linear", "--min-resident");
            Assert.AreEqual(0, pin.ExitCode, pin.Output);
            StringAssert.Contains(pin.Output, "pinned resident");
            StringAssert.Contains(pin.Output, "Shard__PinnedBytes");
            var logs = Path.Combine(home, "logs");
            Assert.IsTrue(SpinWait.SpinUntil(() => Directory.EnumerateFiles(logs, "shard-*.log").Count(f => ShardLogSays(f, "1 of 1 models pinned to this shard are resident and pinned")) == 2, TimeSpan.FromSeconds(60)), "both replicas pinned the model");
            var pinnedPlacement = await RunCliAsync(home, "placement", "linear");
            StringAssert.Contains(pinnedPlacement.Output, "replicas=2");
            var unpin = await RunCliAsync(home, "scale", "linear", "--unpin");
            Assert.AreEqual(0, unpin.ExitCode, unpin.Output);
            StringAssert.Contains(unpin.Output, "unpinned");
            Assert.AreEqual(2, (await RunCliAsync(home, "scale", "linear")).ExitCode, "scale with nothing to change is a usage error");

            var down = await RunCliAsync(home, "down");
            Assert.AreEqual(0, down.ExitCode, down.Output);
            foreach (var process in state.AllProcesses())
            {
                Assert.IsFalse(ChildProcesses.IsOurs(process.Pid, state.MarkerOf(process)), $"{process.Id} (pid {process.Pid}) still runs after down");
            }

            Assert.IsFalse(File.Exists(Path.Combine(home, "local.json")));
        }
        finally
        {
            if (new StateDirectory(home).Read() is { } left)
            {
                await new LocalCluster(new StateDirectory(home), _ => { }).StopAsync(left);
            }

            try
            {
                Directory.Delete(home, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static Task<(int ExitCode, string Output)> RunCliAsync(string home, params string[] args) => CliProcess.RunAsync(home, args);

    /// <summary>Whether a shard's log (still being written by the shard) has a line.</summary>
    private static bool ShardLogSays(string file, string line)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Contains(line, StringComparison.Ordinal);
    }
}
