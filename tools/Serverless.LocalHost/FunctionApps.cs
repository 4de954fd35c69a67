using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Http.Hosting;

namespace Serverless.LocalHost;

/// <summary>
/// The function apps this host can run: each app's assembly (where its function classes are) and the
/// service registration its Functions <c>Program.cs</c> calls.
/// </summary>
internal static class FunctionApps
{
    public static readonly IReadOnlyDictionary<string, (Assembly Assembly, Action<IServiceCollection, IConfiguration> Register)> All =
        new Dictionary<string, (Assembly, Action<IServiceCollection, IConfiguration>)>(StringComparer.Ordinal)
        {
            ["shard"] = (typeof(Serverless.Shard.InferFunction).Assembly, static (s, c) => s.AddServerlessShard(c)),
            ["router"] = (typeof(Serverless.Router.InferFunction).Assembly, static (s, c) => s.AddServerlessRouter(c)),
            ["publisher"] = (typeof(Serverless.Publisher.PublishModelFunction).Assembly, static (s, c) => s.AddServerlessPublisher(c)),
        };
}
