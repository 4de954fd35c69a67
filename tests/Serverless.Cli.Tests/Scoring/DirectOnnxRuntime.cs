using Microsoft.ML.OnnxRuntime;

namespace Serverless.Cli.Tests.Scoring;

/// <summary>Runs a model in this process with ONNX Runtime: the reference the platform's answers must equal.</summary>
internal static class DirectOnnxRuntime
{
    public static float[] RunFloat(byte[] model, string outputName, params (string Name, float[] Data, long[] Shape)[] inputs)
    {
        using var session = new InferenceSession(model);
        var values = new List<OrtValue>();
        try
        {
            var names = new List<string>();
            foreach (var (name, data, shape) in inputs)
            {
                names.Add(name);
                values.Add(OrtValue.CreateTensorValueFromMemory(data, shape));
            }

            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, names, values, [outputName]);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }
}
