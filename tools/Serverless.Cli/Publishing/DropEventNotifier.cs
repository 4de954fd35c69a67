using System.Net.Http.Headers;
using Serverless.Cli.Cluster;
using Serverless.Core.Storage;

namespace Serverless.Cli.Publishing;

/// <summary>
/// Plays Event Grid for the local cluster: after a drop it posts the <c>BlobCreated</c> event Azure would
/// deliver to the publisher's blob webhook, so the drop is published at once without the publisher listing
/// the drop container (a listing's cost grows with every model ever dropped). Best effort: when the event
/// cannot be delivered the publisher's periodic scan still finds the drop, only later.
/// </summary>
public sealed class DropEventNotifier : IDisposable
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private readonly HttpClient _http;
    private readonly Uri _webhook;

    public DropEventNotifier(Uri publisherUrl)
    {
        ArgumentNullException.ThrowIfNull(publisherUrl);
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        _webhook = new Uri(publisherUrl, $"/{EventGridBlobEvents.WebhookPath}?functionName={EventGridBlobEvents.FunctionNameParameter(Serverless.Publisher.PublishModelFunction.Name)}");
    }

    /// <summary>The notifier for a local cluster's publisher, or null when the state has none.</summary>
    public static DropEventNotifier? For(LocalClusterState state) =>
        state?.Publisher is { Url.Length: > 0 } publisher ? new DropEventNotifier(new Uri(publisher.Url)) : null;

    /// <summary>Announces that <paramref name="blobUrl"/> was written; true when the publisher took the event.</summary>
    public async Task<bool> BlobCreatedAsync(Uri blobUrl, string? eTag, long contentLength, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(EventGridBlobEvents.BlobCreated(blobUrl, eTag, contentLength, DateTimeOffset.UtcNow));
        content.Headers.ContentType = JsonContentType;
        using var request = new HttpRequestMessage(HttpMethod.Post, _webhook) { Content = content };
        request.Headers.TryAddWithoutValidation("aeg-event-type", "Notification");
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public void Dispose() => _http.Dispose();
}
