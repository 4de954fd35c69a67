using Microsoft.Azure.Functions.Worker;
using Serverless.Publishing;

namespace Serverless.Publisher;

/// <summary>Publishes a model dropped at <c>model-drop/{tenant}/{model}/{version}/model.onnx</c>.</summary>
public sealed class PublishModelFunction
{
    /// <summary>The function's name: the blob webhook's <c>functionName</c> is <c>Host.Functions.PublishModel</c> (infra/app/publisher.bicep).</summary>
    public const string Name = "PublishModel";
    private readonly ModelPublisher _publisher;

    public PublishModelFunction(ModelPublisher publisher)
    {
        _publisher = publisher;
    }

    [Function(Name)]
    public async Task Run(
        [BlobTrigger("model-drop/{tenant}/{model}/{version}/model.onnx", Source = BlobTriggerSource.EventGrid, Connection = "ModelDropStorage")] Stream blob,
        string tenant,
        string model,
        string version,
        CancellationToken cancellationToken) =>
        await _publisher.PublishAsync(tenant, model, version, blob, cancellationToken).ConfigureAwait(false);
}
