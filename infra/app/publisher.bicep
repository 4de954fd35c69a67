// The publisher: a blob-triggered function app that turns a file dropped into `model-drop` into a
// served model. Its trigger uses the Event Grid source (low latency, no container scans), so this
// module also creates the storage account's Event Grid system topic and, once the code is deployed,
// the subscription that calls the blob extension's webhook.

param name string
param location string
param tags object = {}

@description('Resource id of the (Elastic Premium, Linux) plan the publisher runs on.')
param planId string

@minValue(1)
@maxValue(20)
param alwaysReady int = 1

param storageAccountName string
param blobEndpoint string
param tableEndpoint string
param queueEndpoint string
param applicationInsightsConnectionString string

@secure()
@description('Internal key sent to / required by the shards (Internal__ShardKey); from main.bicep.')
param internalShardKey string

@description('Largest model file accepted, in bytes (Publisher__MaxModelBytes; the code\'s default, 2 GiB - 1).')
@minValue(1)
param maxModelBytes int = 2147483647

@description('Name of the Event Grid system topic on the storage account.')
param systemTopicName string

@description('The [Function] name of the blob-triggered publish function (Source = BlobTriggerSource.EventGrid).')
param publisherFunctionName string

@description('Create the Event Grid subscription. Needs the code deployed first: Event Grid validates the webhook, and the blobs_extension system key exists only once the blob extension has started.')
param enableModelDropEvents bool = false

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource publisher 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'publisher' })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: planId
    reserved: true
    httpsOnly: true
    clientAffinityEnabled: false
    siteConfig: {
      linuxFxVersion: 'DOTNET-ISOLATED|10.0'
      minimumElasticInstanceCount: alwaysReady
      alwaysOn: false
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      use32BitWorkerProcess: false
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'dotnet-isolated' }
        { name: 'WEBSITE_RUN_FROM_PACKAGE', value: '1' }
        { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
        { name: 'Storage__BlobServiceUri', value: blobEndpoint }
        { name: 'Storage__TableServiceUri', value: tableEndpoint }
        { name: 'Publisher__MaxModelBytes', value: string(maxModelBytes) }
        { name: 'Internal__ShardKey', value: internalShardKey }
        // The blob trigger's connection ("ModelDropStorage"), identity-based.
        { name: 'ModelDropStorage__blobServiceUri', value: blobEndpoint }
        { name: 'ModelDropStorage__queueServiceUri', value: queueEndpoint }
      ]
    }
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource modelDropSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (enableModelDropEvents) {
  parent: systemTopic
  name: 'model-drop-to-publisher'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${publisher.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${publisherFunctionName}&code=${listKeys('${publisher.id}/host/default', '2024-04-01').systemKeys.blobs_extension}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/model-drop/'
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output name string = publisher.name
output principalId string = publisher.identity.principalId
output systemTopicName string = systemTopic.name
