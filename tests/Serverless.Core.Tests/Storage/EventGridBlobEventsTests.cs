using System.Text;
using System.Text.Json.Nodes;
using Serverless.Core.Storage;

namespace Serverless.Core.Tests.Storage;

[TestClass]
public sealed class EventGridBlobEventsTests
{
    [TestMethod]
    public void BlobCreated_ReadsBack_AsTheSameBlobAndETag()
    {
        var url = new Uri("http://127.0.0.1:10000/devstoreaccount1/model-drop/demo/m/1/model.onnx");
        var body = EventGridBlobEvents.BlobCreated(url, "\"0x8DD\"", 262, DateTimeOffset.UnixEpoch);

        Assert.IsTrue(EventGridBlobEvents.TryParse(body, out var delivery, out var error), error);
        Assert.IsNull(delivery!.ValidationCode);
        Assert.AreEqual(1, delivery.BlobsCreated.Count);
        Assert.AreEqual(url, delivery.BlobsCreated[0].Url);
        Assert.AreEqual("\"0x8DD\"", delivery.BlobsCreated[0].ETag);
    }

    [TestMethod]
    public void BlobCreated_IsInTheEventGridSchema_WithTheSubjectAzureGives()
    {
        var pathStyle = JsonNode.Parse(EventGridBlobEvents.BlobCreated(new Uri("http://127.0.0.1:10000/devstoreaccount1/model-drop/demo/m/1/model.onnx"), null, 1, DateTimeOffset.UnixEpoch))!.AsArray()[0]!;
        var azure = JsonNode.Parse(EventGridBlobEvents.BlobCreated(new Uri("https://acct.blob.core.windows.net/model-drop/demo/m/1/model.onnx"), null, 1, DateTimeOffset.UnixEpoch))!.AsArray()[0]!;

        Assert.AreEqual("Microsoft.Storage.BlobCreated", (string?)pathStyle["eventType"]);
        Assert.AreEqual("/blobServices/default/containers/model-drop/blobs/demo/m/1/model.onnx", (string?)pathStyle["subject"]);
        Assert.AreEqual("/blobServices/default/containers/model-drop/blobs/demo/m/1/model.onnx", (string?)azure["subject"]);
        Assert.AreEqual("https://acct.blob.core.windows.net/model-drop/demo/m/1/model.onnx", (string?)azure["data"]!["url"]);
    }

    [TestMethod]
    public void SubscriptionValidation_GivesTheCode_AndOtherEventTypesAreCounted()
    {
        var body = Encoding.UTF8.GetBytes("""
            [{"id":"1","subject":"/blobServices/default/containers/c/blobs/b","eventTime":"2026-12-01T00:00:00Z","dataVersion":"1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"c0de"}},
             {"id":"1","subject":"/blobServices/default/containers/c/blobs/b","eventTime":"2026-12-01T00:00:00Z","dataVersion":"1","eventType":"Microsoft.Storage.BlobDeleted","data":{"url":"https://a.blob.core.windows.net/c/b"}}]
            """);

        Assert.IsTrue(EventGridBlobEvents.TryParse(body, out var delivery, out var error), error);
        Assert.AreEqual("c0de", delivery!.ValidationCode);
        Assert.AreEqual(0, delivery.BlobsCreated.Count);
        Assert.AreEqual(1, delivery.OtherEvents);
    }

    [TestMethod]
    [DataRow("not json", "not JSON")]
    [DataRow("42", "JSON array")]
    [DataRow("[1]", "JSON array of Event Grid events")]
    [DataRow("""[{"id":"1","subject":"/blobServices/default/containers/c/blobs/b","eventTime":"2026-12-01T00:00:00Z","dataVersion":"1","data":{}}]""", "'eventType'")]
    [DataRow("""[{"eventType":"Microsoft.Storage.BlobCreated","data":{"url":"https://a.blob.core.windows.net/c/b"}}]""", "'subject'")]
    [DataRow("""[{"id":"1","subject":"/blobServices/default/containers/c/blobs/b","eventTime":"2026-12-01T00:00:00Z","dataVersion":"1","eventType":"Microsoft.Storage.BlobCreated","data":{}}]""", "data.url")]
    [DataRow("""[{"id":"1","subject":"/blobServices/default/containers/c/blobs/b","eventTime":"2026-12-01T00:00:00Z","dataVersion":"1","eventType":"Microsoft.Storage.BlobCreated","data":{"url":"/relative/blob"}}]""", "absolute http(s) URL")]
    [DataRow("""[{"id":"1","subject":"/blobServices/default/containers/c/blobs/b","eventTime":"2026-12-01T00:00:00Z","dataVersion":"1","eventType":"Microsoft.Storage.BlobCreated","data":{"url":"ftp://host/c/b"}}]""", "absolute http(s) URL")]
    [DataRow("""[{"id":"1","subject":"/blobServices/default/containers/c/blobs/b","eventTime":"2026-12-01T00:00:00Z","dataVersion":"1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{}}]""", "validationCode")]
    public void BadDeliveries_AreRefused_NamingWhatIsWrong(string json, string expected)
    {
        Assert.IsFalse(EventGridBlobEvents.TryParse(Encoding.UTF8.GetBytes(json), out var delivery, out var error));
        Assert.IsNull(delivery);
        StringAssert.Contains(error, expected);
    }
}
