using System.Text;
using System.Text.Json.Nodes;
using Serverless.Cli.Tests.Cluster;
using Serverless.Core.Registry;
using Serverless.Core.Storage;
using Serverless.ModelBuilder;

namespace Serverless.Cli.Tests.Publishing;

/// <summary>
/// The publisher's Event Grid blob webhook on the local host: a drop announced by its <c>BlobCreated</c> event is
/// published without the publisher listing the drop container, and bad deliveries get a clear error.
/// </summary>
[TestClass]
public sealed class DropEventTests
{
    [TestMethod]
    public async Task ADropAnnouncedByItsEvent_IsPublished_WithoutTheContainerBeingListed()
    {
        // Listings ten minutes apart: past the one at start, only the event can get this drop published.
        await using var cluster = await TestCluster.StartAsync(shards: 1, null, persistStorage: false, new Dictionary<string, string>
        {
            ["BlobTrigger__ScanIntervalSeconds"] = "600",
            ["BlobTrigger__MaxScanIntervalSeconds"] = "600",
        });
        Assert.IsNotNull(cluster.DropEvents, "the test cluster sends drop events");

        var outcome = await cluster.PublishAsync("demo", "announced", "1", DemoModels.Linear());

        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
        var (status, body, _) = await cluster.InferAsync(cluster.DemoKey, "announced", """{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""");
        Assert.AreEqual(200, status, body?.ToJsonString());
    }

    [TestMethod]
    public async Task ADropPublishedFromItsEvent_IsNotPublishedAgain_ByTheListingsThatFollow()
    {
        // Listings every 0.2-0.5 s: several run after the event's publish. The event's ETag comes from a response header
        // (quoted), a listing's from XML (bare); compared as text, every drop was taken as changed and published twice.
        await using var cluster = await TestCluster.StartAsync(shards: 1, null, persistStorage: false, new Dictionary<string, string>
        {
            ["BlobTrigger__ScanIntervalSeconds"] = "0.2",
            ["BlobTrigger__MaxScanIntervalSeconds"] = "0.5",
        });
        var outcome = await cluster.PublishAsync("demo", "once", "1", DemoModels.Linear());
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
        var receipts = cluster.Storage.Tables.GetTableClient("azurewebjobsreceipts");
        var key = Uri.EscapeDataString(Serverless.Core.Naming.ModelNames.DropBlobName("demo", "once", "1"));
        Azure.ETag? first = null;
        for (var i = 0; i < 50 && first is null; i++)
        {
            var row = await receipts.GetEntityIfExistsAsync<Azure.Data.Tables.TableEntity>(key, "PublishModel~model-drop");
            if (row.HasValue)
            {
                first = row.Value!.ETag;
            }
            else
            {
                await Task.Delay(100);
            }
        }

        Assert.IsNotNull(first, "the publish left a receipt");
        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.AreEqual(first, (await receipts.GetEntityAsync<Azure.Data.Tables.TableEntity>(key, "PublishModel~model-drop")).Value.ETag, "the receipt was written again: a listing handled the drop a second time");
    }

    [TestMethod]
    public async Task TheWebhook_AnswersTheValidationHandshake_AndRefusesBadDeliveries_ByName()
    {
        await using var cluster = await TestCluster.StartAsync(shards: 1);
        using var http = new HttpClient { BaseAddress = new Uri(cluster.State.Publisher!.Url) };
        var webhook = $"/{EventGridBlobEvents.WebhookPath}?functionName={EventGridBlobEvents.FunctionNameParameter("PublishModel")}";

        var (validation, validationBody) = await PostAsync(http, webhook, """[{"id":"1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","subject":"","eventTime":"2026-12-01T00:00:00Z","data":{"validationCode":"abc-123"},"dataVersion":"1"}]""");
        Assert.AreEqual(200, validation);
        Assert.AreEqual("abc-123", (string?)validationBody!["validationResponse"]);

        var (unknown, unknownBody) = await PostAsync(http, $"/{EventGridBlobEvents.WebhookPath}?functionName=Host.Functions.NoSuchFunction", "[]");
        Assert.AreEqual(404, unknown);
        StringAssert.Contains((string?)unknownBody!["error"], "PublishModel");

        var (notJson, notJsonBody) = await PostAsync(http, webhook, "this is not json");
        Assert.AreEqual(400, notJson);
        StringAssert.Contains((string?)notJsonBody!["error"], "not JSON");

        var (noUrl, noUrlBody) = await PostAsync(http, webhook, """[{"id":"1","subject":"/blobServices/default/containers/c/blobs/b","eventTime":"2026-12-01T00:00:00Z","dataVersion":"1","eventType":"Microsoft.Storage.BlobCreated","data":{}}]""");
        Assert.AreEqual(400, noUrl);
        StringAssert.Contains((string?)noUrlBody!["error"], "data.url");

        // Another container's blob is not this trigger's: taken as delivered, counted as ignored.
        var elsewhere = EventGridBlobEvents.BlobCreated(new Uri(cluster.Storage.Models.Uri, "models/demo/x/1/model.onnx"), null, 1, DateTimeOffset.UtcNow);
        var (ignored, ignoredBody) = await PostAsync(http, webhook, Encoding.UTF8.GetString(elsewhere));
        Assert.AreEqual(202, ignored);
        Assert.AreEqual(0, (int)ignoredBody!["accepted"]!);
        Assert.AreEqual(1, (int)ignoredBody["ignored"]!);

        // The publisher is still up and publishing.
        var outcome = await cluster.PublishAsync("demo", "after-bad-events", "1", DemoModels.Linear());
        Assert.AreEqual(ModelStates.Ready, outcome.State, outcome.Error);
    }

    private static async Task<(int Status, JsonNode? Body)> PostAsync(HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(path, content);
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync()));
    }
}
