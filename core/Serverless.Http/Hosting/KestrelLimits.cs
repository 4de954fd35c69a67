using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Serverless.Http.Hosting;

/// <summary>
/// Applies <see cref="HttpLimitsOptions"/> to Kestrel: the one place the local host and the GPU app take their
/// slow-client and header-flood limits from, so the two cannot drift apart.
/// </summary>
public static class KestrelLimits
{
    /// <summary>
    /// Binds section <c>HttpLimits</c> (validated at start) and configures Kestrel from it. Kestrel reads its
    /// options when the server starts, after options validation, so a bad value stops the host before it listens.
    /// </summary>
    public static IServiceCollection AddServerlessKestrelLimits(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<HttpLimitsOptions>()
            .Bind(configuration.GetSection(HttpLimitsOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<KestrelServerOptions>()
            .Configure<IOptions<HttpLimitsOptions>>((kestrel, limits) => Apply(kestrel.Limits, limits.Value));
        return services;
    }

    /// <summary>Sets <paramref name="limits"/> from <paramref name="options"/>.</summary>
    public static void Apply(KestrelServerLimits limits, HttpLimitsOptions options)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(options);
        limits.MinRequestBodyDataRate = options.MinRequestBodyBytesPerSecond == 0
            ? null
            : new MinDataRate(options.MinRequestBodyBytesPerSecond, TimeSpan.FromSeconds(options.MinRequestBodyGraceSeconds));
        limits.RequestHeadersTimeout = TimeSpan.FromSeconds(options.RequestHeadersTimeoutSeconds);
        limits.KeepAliveTimeout = TimeSpan.FromSeconds(options.KeepAliveTimeoutSeconds);
        limits.MaxRequestHeaderCount = options.MaxRequestHeaderCount;
        limits.MaxRequestHeadersTotalSize = options.MaxRequestHeadersTotalBytes;
        limits.MaxConcurrentConnections = options.MaxConcurrentConnections == 0 ? null : options.MaxConcurrentConnections;
    }
}
