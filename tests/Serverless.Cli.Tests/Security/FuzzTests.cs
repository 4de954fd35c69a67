using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Serverless.Cli.Cluster;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Security;

/// <summary>
/// Fuzzes the v2 JSON input through the router: thousands of seeded, malformed requests (truncated JSON,
/// huge numbers, NaN literals, wrong nesting, objects where arrays belong, 10 MB strings, negative and giant
/// shapes, wrong types, deep nesting, empty bodies, invalid UTF-8, single-byte mutations), 8 at a time.
/// Every answer must be a 4xx (never a 5xx, never a dropped connection) and every process must live on.
/// </summary>
[TestClass]
public sealed class FuzzTests
{
    private const int Seed = 20261125;
    private const int Cases = 4000;
    private const string Valid = """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    public TestContext TestContext { get; set; } = null!;

    private static TestCluster Cluster => SharedCluster.Instance;

    [TestMethod]
    [Timeout(120_000)]
    public async Task MalformedRequests_AreAll4xx_AndNoProcessDies()
    {
        // A tenant of its own with a quota that the fuzzing cannot reach, so no answer is a 429 and the
        // demo tenant's quota is left alone; the model is the demo model.
        var tenant = "fuzz-" + Guid.NewGuid().ToString("N")[..6];
        var key = await Cluster.Tenants.AddKeyAsync(tenant, null, 1_000_000, CancellationToken.None);
        Assert.AreEqual(ModelStates.Ready, (await Cluster.PublishAsync(tenant, LocalCluster.DemoModel, "1", DemoModels.Linear())).State);
        var (okStatus, okBody, _) = await Cluster.InferAsync(key, LocalCluster.DemoModel, Valid);
        Assert.AreEqual(200, okStatus, okBody?.ToJsonString());

        var cases = Generate(new Random(Seed)).Take(Cases).ToList();
        var statuses = new ConcurrentDictionary<int, int>();
        var categories = new ConcurrentDictionary<string, int>();
        var failures = new ConcurrentQueue<string>();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (fuzz, cancellationToken) =>
        {
            categories.AddOrUpdate(fuzz.Category, 1, (_, n) => n + 1);
            using var request = new HttpRequestMessage(HttpMethod.Post, $"v2/models/{LocalCluster.DemoModel}/infer") { Content = new ByteArrayContent(fuzz.Body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            try
            {
                using var response = await Cluster.Http.SendAsync(request, cancellationToken);
                var status = (int)response.StatusCode;
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                if (status is < 400 or >= 500 || !text.Contains("\"error\"", StringComparison.Ordinal))
                {
                    failures.Enqueue($"{fuzz.Category}: {status} {Shorten(text)} for {Shorten(fuzz.Body)}");
                }
            }
            catch (HttpRequestException e)
            {
                statuses.AddOrUpdate(-1, 1, (_, n) => n + 1);
                failures.Enqueue($"{fuzz.Category}: connection failed ({e.Message}) for {Shorten(fuzz.Body)}");
            }
        });
        clock.Stop();

        var figures = string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{(p.Key < 0 ? "dropped" : p.Key.ToString(CultureInfo.InvariantCulture))}: {p.Value}"));
        TestContext.WriteLine($"fuzz: {cases.Count} cases in {clock.Elapsed.TotalSeconds:F1} s; answers {figures}");
        TestContext.WriteLine("fuzz categories: " + string.Join(", ", categories.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}")));
        Assert.IsEmpty(failures, $"{failures.Count} answers were not a 4xx with an error: {string.Join("\n", failures.Take(15))}");
        Assert.AreEqual(cases.Count, statuses.Values.Sum());
        Assert.IsTrue(Cluster.AllProcessesAlive(), "a process of the cluster died under the fuzzing");

        // And the platform still serves.
        var (after, afterBody, _) = await Cluster.InferAsync(key, LocalCluster.DemoModel, Valid);
        Assert.AreEqual(200, after, afterBody?.ToJsonString());
    }

    private sealed record FuzzCase(string Category, byte[] Body);

    private static FuzzCase Text(string category, string body) => new(category, Encoding.UTF8.GetBytes(body));

    private static string Input(string name = "\"x\"", string shape = "[1,4]", string datatype = "\"FP32\"", string data = "[1,2,3,4]") =>
        $$"""{"name":{{name}},"shape":{{shape}},"datatype":{{datatype}},"data":{{data}}}""";

    private static string Body(string input) => $$"""{"inputs":[{{input}}]}""";

    /// <summary>An endless, seeded stream of malformed requests; the 10 MB strings come a few times only.</summary>
    private static IEnumerable<FuzzCase> Generate(Random random)
    {
        var tenMegabytes = new string('a', 10 * 1024 * 1024);
        yield return Text("10MB string", Body(Input(datatype: "\"BYTES\"", shape: "[1]", data: $"[\"{tenMegabytes}\"]")));
        yield return Text("10MB string", Body(Input(name: $"\"{tenMegabytes}\"")));
        yield return Text("10MB string", Body(Input(datatype: $"\"{tenMegabytes}\"")));
        yield return Text("10MB string", $$"""{"id":"{{tenMegabytes}}","inputs":[]}""");
        yield return Text("empty body", "");
        yield return Text("empty body", " ");

        var generators = new Func<Random, FuzzCase>[]
        {
            Truncated, HugeNumbers, NaNLiterals, WrongNesting, ObjectsForArrays, BadShapes, WrongTypes, DeepNesting, InvalidUtf8, Mutated, Mutated, Mutated,
        };
        while (true)
        {
            yield return generators[random.Next(generators.Length)](random);
        }
    }

    private static FuzzCase Truncated(Random random)
    {
        var bodies = new[] { Valid, Body(Input(data: "[[1,2],[3,4]]", shape: "[2,2]")), """{"id":"a","inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]}],"outputs":[{"name":"y"}]}""" };
        var body = bodies[random.Next(bodies.Length)];
        return Text("truncated", body[..random.Next(0, body.Length - 1)]);
    }

    private static FuzzCase HugeNumbers(Random random)
    {
        // Out of FP32's range (or not a number .NET can read) for the data; not an int64 for shapes and INT64.
        string[] beyondFloat = ["1e999", "-1e999", "1e39", "-3.5e38", "1" + new string('0', 5000), "0." + new string('9', 5000) + "e400", "1e+99999"];
        string[] beyondInt64 = ["123456789012345678901234567890", "9223372036854775808", "-9223372036854775809", "1e3", "1.5", "1e999"];
        return random.Next(3) switch
        {
            0 => Text("huge numbers", Body(Input(data: $"[1,2,3,{beyondFloat[random.Next(beyondFloat.Length)]}]"))),
            1 => Text("huge numbers", Body(Input(shape: $"[1,{beyondInt64[random.Next(beyondInt64.Length)]}]"))),
            _ => Text("huge numbers", Body(Input(datatype: "\"INT64\"", data: $"[{beyondInt64[random.Next(beyondInt64.Length)]},1,2,3]"))),
        };
    }

    private static FuzzCase NaNLiterals(Random random)
    {
        string[] literals = ["NaN", "Infinity", "-Infinity", "nan", "inf", "+1", "01", ".5", "1.", "0x10", "1e", "--1", "undefined"];
        var literal = literals[random.Next(literals.Length)];
        return random.Next(2) == 0
            ? Text("NaN literals", Body(Input(data: $"[1,{literal},3,4]")))
            : Text("NaN literals", Body(Input(shape: $"[{literal},4]")));
    }

    private static FuzzCase WrongNesting(Random random)
    {
        string[] bodies =
        [
            $$"""{"inputs":{{Input()}}}""",
            $$"""{"inputs":[[{{Input()}}]]}""",
            $$"""{"inputs":[{"input":{{Input()}}}]}""",
            Body(Input(data: "[[1,2],[3],[4]]")),
            Body(Input(data: "[[[[1,2,3,4]]]]]")),
            Body(Input(data: "[1,[2,[3,[4]]],5]")),
            Body(Input(shape: "[[1,4]]")),
            $$"""[{{Body(Input())}}]""",
            "{\"inputs\":[" + Input() + "]}}",
            $$"""{"inputs":[{{Input()}}]""",
            $$"""{"inputs":[{{Input()}},]}""",
            $$"""{"inputs":[{{Input()}}],}""",
            $$"""{"outputs":[[{"name":"y"}]],"inputs":[{{Input()}}]}""",
            $$"""{"outputs":{"name":"y"},"inputs":[{{Input()}}]}""",
            $$"""{"inputs":[{{Input()}}]} {"inputs":[]}""",
        ];
        return Text("wrong nesting", bodies[random.Next(bodies.Length)]);
    }

    private static FuzzCase ObjectsForArrays(Random random)
    {
        string[] bodies =
        [
            Body(Input(shape: "{\"0\":1,\"1\":4}")),
            Body(Input(data: "{\"0\":1,\"1\":2,\"2\":3,\"3\":4}")),
            Body(Input(data: "[{\"v\":1},2,3,4]")),
            """{"inputs":{"x":{"shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}}}""",
            "{\"inputs\":[" + Input() + "],\"outputs\":[{\"name\":{\"y\":1}}]}",
            Body(Input(name: "{\"x\":1}")),
        ];
        return Text("objects for arrays", bodies[random.Next(bodies.Length)]);
    }

    private static FuzzCase BadShapes(Random random)
    {
        string[] shapes =
        [
            "[-1,4]", "[1,-4]", "[-9223372036854775808]", "[9223372036854775807,2]", "[4294967296,4294967296]", "[1e30]", "[1.5,4]",
            "[100000000,100000000]", "[0,4]", "[]", "[1,4,1,1,1,1,1,1,1]", "[" + string.Join(',', Enumerable.Repeat(1, 1000)) + ",4]", "[2147483648,1]", "[67108865]",
        ];
        return Text("bad shapes", Body(Input(shape: shapes[random.Next(shapes.Length)])));
    }

    private static FuzzCase WrongTypes(Random random)
    {
        string[] bodies =
        [
            Body(Input(name: "5")), Body(Input(name: "null")), Body(Input(name: "\"\"")), Body(Input(name: "[\"x\"]")),
            Body(Input(datatype: "true")), Body(Input(datatype: "\"FP33\"")), Body(Input(datatype: "\"fp32\"")), Body(Input(datatype: "\"BYTES\"")), Body(Input(datatype: "\"INT8\"", data: "[1,2,3,400]")),
            Body(Input(datatype: "\"BOOL\"", data: "[1,2,3,4]")), Body(Input(datatype: "\"UINT8\"", data: "[-1,2,3,4]")),
            Body(Input(shape: "\"1,4\"")), Body(Input(shape: "null")), Body(Input(shape: "[\"1\",\"4\"]")), Body(Input(shape: "[true,4]")),
            Body(Input(data: "\"1,2,3,4\"")), Body(Input(data: "null")), Body(Input(data: "[\"1\",\"2\",\"3\",\"4\"]")), Body(Input(data: "[true,false,true,false]")), Body(Input(data: "[null,null,null,null]")),
            Body(Input(data: "[1,2,3]")), Body(Input(data: "[1,2,3,4,5]")),
            """{"inputs":null}""", """{"inputs":"x"}""", """{"inputs":5}""", """{"inputs":[]}""", """{"inputs":[null]}""", """{"inputs":[1,2,3]}""", """{}""", "null", "true", "42", "\"inputs\"", "[]",
            $$"""{"id":7,"inputs":[{{Input()}}]}""", $$"""{"inputs":[{{Input()}},{{Input()}}]}""", $$"""{"inputs":[{{Input()}}],"outputs":[{"name":"nope"}]}""",
            $$"""{"inputs":[{{Input()}}],"outputs":[{"name":5}]}""", $$"""{"inputs":[{{Input(name: "\"z\"")}}]}""",
        ];
        return Text("wrong types", bodies[random.Next(bodies.Length)]);
    }

    private static FuzzCase DeepNesting(Random random)
    {
        var depth = random.Next(3) switch { 0 => 65, 1 => 1000, _ => 100_000 };
        return random.Next(3) switch
        {
            0 => Text("deep nesting", Body(Input(data: new string('[', depth) + "1" + new string(']', depth)))),
            1 => Text("deep nesting", new string('[', depth) + new string(']', depth)),
            _ => Text("deep nesting", $$"""{"inputs":[{{Input()}}],"parameters":{{string.Concat(Enumerable.Repeat("{\"a\":", depth))}}1{{new string('}', depth)}}}"""),
        };
    }

    private static FuzzCase InvalidUtf8(Random random)
    {
        byte[][] junk = [[0xFF], [0xC3, 0x28], [0xE2, 0x82], [0xF0, 0x28, 0x8C, 0x28], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0x00]];
        var bad = junk[random.Next(junk.Length)];
        var template = random.Next(4) switch
        {
            0 => Body(Input(name: "\"x\u0001\"")),
            1 => Body(Input(datatype: "\"BYTES\"", shape: "[1]", data: "[\"\u0001\"]")),
            2 => Body(Input(datatype: "\"FP\u000132\"")),
            _ => Body(Input(data: "[1,\u0001,3,4]")),
        };
        var bytes = Encoding.UTF8.GetBytes(template).ToList();
        var at = bytes.IndexOf(0x01);
        bytes.RemoveAt(at);
        bytes.InsertRange(at, bad);
        return new FuzzCase("invalid UTF-8", [.. bytes]);
    }

    /// <summary>
    /// One character of the compact valid body inserted, deleted or swapped with its neighbour. Every such
    /// change of this body (single-digit numbers, no whitespace) makes it invalid: broken JSON, an unknown
    /// property or name, or an element count that no longer matches the shape.
    /// </summary>
    private static FuzzCase Mutated(Random random)
    {
        var body = Valid.ToCharArray().ToList();
        var at = random.Next(body.Count);
        switch (random.Next(3))
        {
            case 0:
                const string inserted = "{}[]:,\"\\\u0000\u007f\u00ff";
                body.Insert(random.Next(body.Count + 1), inserted[random.Next(inserted.Length)]);
                return Text("mutated (insert)", new string([.. body]));
            case 1:
                body.RemoveAt(at);
                return Text("mutated (delete)", new string([.. body]));
            default:
                var next = Math.Min(at + 1, body.Count - 1);
                while (body[at] == body[next])
                {
                    at = random.Next(body.Count - 1);
                    next = at + 1;
                }

                (body[at], body[next]) = (body[next], body[at]);
                return Text("mutated (swap)", new string([.. body]));
        }
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;

    private static string Shorten(byte[] body) => body.Length > 300 ? Encoding.UTF8.GetString(body, 0, 300) + $"… ({body.Length} bytes)" : Encoding.UTF8.GetString(body);
}
