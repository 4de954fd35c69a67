using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Scoring;

/// <summary>
/// scikit-learn style classifiers whose ZipMap output is a sequence of maps: served as a "MAP" output, one
/// JSON object per row, with the probabilities ONNX Runtime computes.
/// </summary>
[TestClass]
public sealed class ZipMapTests
{
    private static readonly float[] Input = [1f, 2f, 3f, 0.5f, -1f, 0.25f];
    private static readonly long[] InputShape = [2, 3];

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    [DataRow(false, "zipmap-int-labels", DisplayName = "int64 labels")]
    [DataRow(true, "zipmap-string-labels", DisplayName = "string labels")]
    public async Task ZipMapClassifier_AnswersLabelsAndMaps_EqualToOnnxRuntime(bool stringLabels, string model)
    {
        var bytes = DemoModels.ZipMapClassifier(stringLabels);
        var outcome = await Cluster.PublishAsync("demo", model, "1", bytes);
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
        var (expectedLabels, expectedMaps) = RunDirect(bytes);
        string[] keys = stringLabels ? ["cat", "dog", "fish"] : ["0", "1", "2"];

        var json = $$"""{"inputs":[{"name":"X","shape":[2,3],"datatype":"FP32","data":[{{string.Join(",", Input.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}}]}]}""";
        var (status, body, _) = await Cluster.InferAsync(Cluster.DemoKey, model, json);

        Assert.AreEqual(200, status, body?.ToJsonString());
        var outputs = body!["outputs"]!.AsArray();
        var label = outputs.Single(o => (string?)o!["name"] == "label")!;
        Assert.AreEqual("INT64", (string?)label["datatype"]);
        CollectionAssert.AreEqual(new long[] { 2 }, label["shape"]!.AsArray().Select(n => (long)n!).ToArray());
        CollectionAssert.AreEqual(expectedLabels, label["data"]!.AsArray().Select(n => (long)n!).ToArray());

        var probabilities = outputs.Single(o => (string?)o!["name"] == "probabilities")!;
        Assert.AreEqual("MAP", (string?)probabilities["datatype"], probabilities.ToJsonString());
        CollectionAssert.AreEqual(new long[] { 2 }, probabilities["shape"]!.AsArray().Select(n => (long)n!).ToArray());
        var rows = probabilities["data"]!.AsArray();
        Assert.AreEqual(2, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i]!.AsObject();
            CollectionAssert.AreEquivalent(keys, row.Select(p => p.Key).ToArray(), row.ToJsonString());
            CollectionAssert.AreEquivalent(expectedMaps[i].Keys.ToArray(), keys, "ONNX Runtime's own keys");
            foreach (var key in keys)
            {
                Assert.AreEqual(expectedMaps[i][key], (float)row[key]!, $"row {i}, class {key}");
            }
        }

        var (metaStatus, metadata) = await Cluster.GetAsync(Cluster.DemoKey, $"v2/models/{model}");
        Assert.AreEqual(200, metaStatus, metadata?.ToJsonString());
        var described = metadata!["outputs"]!.AsArray().Single(o => (string?)o!["name"] == "probabilities")!;
        Assert.AreEqual("MAP", (string?)described["datatype"], metadata.ToJsonString());
    }

    /// <summary>Runs the classifier in this process: the labels, and each row's map from class (as a string) to probability.</summary>
    private static (long[] Labels, List<Dictionary<string, float>> Maps) RunDirect(byte[] model)
    {
        using var session = new InferenceSession(model);
        using var input = OrtValue.CreateTensorValueFromMemory(Input, InputShape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["X"], [input], ["label", "probabilities"]);
        var labels = outputs[0].GetTensorDataAsSpan<long>().ToArray();
        var sequence = outputs[1];
        Assert.AreEqual(OnnxValueType.ONNX_TYPE_SEQUENCE, sequence.OnnxType);
        var allocator = OrtAllocator.DefaultInstance;
        var maps = new List<Dictionary<string, float>>();
        for (var i = 0; i < sequence.GetValueCount(); i++)
        {
            using var map = sequence.GetValue(i, allocator);
            using var keys = map.GetValue(0, allocator);
            using var values = map.GetValue(1, allocator);
            var count = (int)keys.GetTensorTypeAndShape().ElementCount;
            var probabilities = values.GetTensorDataAsSpan<float>();
            var row = new Dictionary<string, float>(StringComparer.Ordinal);
            for (var k = 0; k < count; k++)
            {
                var key = keys.GetTensorTypeAndShape().ElementDataType == TensorElementType.String
                    ? keys.GetStringElement(k)
                    : keys.GetTensorDataAsSpan<long>()[k].ToString(CultureInfo.InvariantCulture);
                row[key] = probabilities[k];
            }

            maps.Add(row);
        }

        return (labels, maps);
    }
}
