using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Http;
using Serverless.Core.Protocol;
using Serverless.Scoring;
using Serverless.Core.Storage;
using Serverless.Core.Serving;

namespace Serverless.Functions.AspNetCore;

/// <summary>
/// The local host's <c>POST /runtime/webhooks/blobs?functionName=Host.Functions.{name}</c>: the endpoint Event
/// Grid delivers blob events to on a Functions app whose blob trigger has <c>Source = BlobTriggerSource.EventGrid</c>
/// (infra/app/publisher.bicep subscribes the drop's events to it in Azure). It answers the subscription
/// validation handshake, and hands each <c>BlobCreated</c> event to that function's listener, which reads the
/// blob itself: an event only says where to look, so a wrong or forged one cannot publish anything that is
/// not in the container.
/// </summary>
internal static class BlobWebhook
{
    /// <summary>Event Grid's deliveries are at most 1 MB; a little more is allowed.</summary>
    private const long MaxBodyBytes = 2 * 1024 * 1024;
    private const string FunctionPrefix = "Host.Functions.";

    public static async Task HandleAsync(HttpContext context, IReadOnlyList<string> functions)
    {
        var functionName = context.Request.Query["functionName"].ToString();
        var name = functionName.StartsWith(FunctionPrefix, StringComparison.Ordinal) ? functionName[FunctionPrefix.Length..] : functionName;
        var listener = name.Length == 0 ? null : context.RequestServices.GetKeyedService<BlobTriggerListener>(name);
        if (listener is null)
        {
            await new JsonBytesResult(404, JsonBodies.Error(
                $"query parameter 'functionName' must be {FunctionPrefix}<function> for a blob-triggered function of this app ({string.Join(", ", functions)}); got '{functionName}'")).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        ReadOnlyMemory<byte> body;
        try
        {
            body = await RequestBody.ReadAsync(context.Request.Body, context.Request.ContentLength, MaxBodyBytes, context.RequestAborted).ConfigureAwait(false);
        }
        catch (ServingException e)
        {
            await JsonBytesResult.From(e.Error).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        if (!EventGridBlobEvents.TryParse(body, out var delivery, out var error))
        {
            await new JsonBytesResult(400, JsonBodies.Error($"not an Event Grid delivery: {error}")).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        if (delivery!.ValidationCode is { } code)
        {
            // The handshake Event Grid makes when the subscription is created: echo the code.
            await new JsonBytesResult(200, EventGridBlobEvents.ValidationResponse(code)).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        var accepted = 0;
        foreach (var created in delivery.BlobsCreated)
        {
            if (listener.Notify(created.Url))
            {
                accepted++;
            }
        }

        var ignored = delivery.BlobsCreated.Count - accepted + delivery.OtherEvents;
        await new JsonBytesResult(202, Encoding.UTF8.GetBytes($$"""{"accepted":{{accepted}},"ignored":{{ignored}}}""")).ExecuteAsync(context).ConfigureAwait(false);
    }
}
