using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Serverless.Routing;

/// <summary>Warns at start when no internal key is configured: shards then trust the tenant header from anyone.</summary>
public sealed partial class InternalKeyStartupCheck : IHostedService
{
    private readonly InternalKeyOptions _options;
    private readonly ILogger<InternalKeyStartupCheck> _logger;
    private readonly string _app;

    public InternalKeyStartupCheck(IOptions<InternalKeyOptions> options, ILogger<InternalKeyStartupCheck> logger, string app)
    {
        _options = options.Value;
        _logger = logger;
        _app = app;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.IsConfigured)
        {
            const string setting = InternalKeyOptions.SectionName + "__" + nameof(InternalKeyOptions.ShardKey);
            if (_app == "shard")
            {
                LogShardWithoutKey(setting, ShardHeaders.Tenant);
            }
            else
            {
                LogCallerWithoutKey(_app, setting);
            }
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "No internal key is configured ({Setting} is empty): this shard trusts the '{TenantHeader}' header from any caller. Set the same key on the router, the publisher and every shard")]
    private partial void LogShardWithoutKey(string setting, string tenantHeader);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No internal key is configured ({Setting} is empty): this {App} sends none, so shards that have one answer its calls with 401")]
    private partial void LogCallerWithoutKey(string app, string setting);
}
