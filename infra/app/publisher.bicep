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

@description('The callers\' subnet (core/network.bicep, delegated to Microsoft.Web/serverFarms) the publisher (on the router\'s plan, so the same subnet) integrates with.')
param subnetId string

param storageAccountName string
param blobEndpoint string
param tableEndpoint string
param queueEndpoint string
param applicationInsightsConnectionString string

@description('Name of the platform\'s Key Vault (core/keyvault.bicep).')
param keyVaultName string

@description('Key Vault secret of the internal key sent to the shards (Internal__ShardKey, a Key Vault reference).')
param internalShardKeySecretName string

@description('Key Vault secret of the previous internal key (Internal__PreviousShardKey, a Key Vault reference): still accepted by the shards during a rotation.')
param internalShardKeyPreviousSecretName string

@description('Largest model file accepted, in bytes (Publisher__MaxModelBytes; the code\'s default, 2 GiB - 1).')
@minValue(1)
param maxModelBytes int = 2147483647

@description('The GPU pool\'s session budget in bytes (Publisher__GpuCacheBytes, the GPU app\'s Shard__CacheBytes): GPU models that would not fit are rejected at publish.')
@minValue(1)
param gpuCacheBytes int = 4294967296

@description('Models a tenant may have when its row sets none (Publisher__DefaultMaxModelsPerTenant); over it a publish is Rejected naming the limit.')
@minValue(1)
param defaultMaxModelsPerTenant int = 250000

@description('Versions one model may have when the tenant\'s row sets none (Publisher__DefaultMaxVersionsPerModel).')
@minValue(1)
param defaultMaxVersionsPerModel int = 1000

@description('Bytes of model files a tenant may have stored when its row sets none (Publisher__DefaultMaxBytesPerTenant; 1 TiB).')
@minValue(1)
param defaultMaxBytesPerTenant int = 1099511627776

@description('Validator child processes at once (Publisher__ValidatorProcesses): each model is opened with ONNX Runtime in a child, so one that crashes it or takes the memory ends the child, not the publisher. 0 validates in the publisher itself.')
@minValue(0)
@maxValue(64)
param validatorProcesses int = 2

@description('Resident memory one validator child may reach while opening a model, in bytes (Publisher__ValidatorMemoryBytes; 3 GiB, under the router plan\'s 3.5 GB); past it the model is rejected naming the setting.')
@minValue(67108864)
param validatorMemoryBytes int = 3221225472

@description('Seconds one validation may take (Publisher__ValidatorTimeoutSeconds); past it the child is killed and the model rejected.')
@minValue(1)
@maxValue(3600)
param validatorTimeoutSeconds int = 120

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
    // Every outbound call through the callers' subnet: its Microsoft.Web service endpoint is what the shards' and
    // the GPU app's access restrictions admit, and the internal GPU environment resolves only inside the VNet.
    virtualNetworkSubnetId: subnetId
    vnetRouteAllEnabled: true
    siteConfig: {
      linuxFxVersion: 'DOTNET-ISOLATED|10.0'
      minimumElasticInstanceCount: alwaysReady
      alwaysOn: false
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      use32BitWorkerProcess: false
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource internalShardKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: internalShardKeySecretName
}

resource internalShardKeyPreviousSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: internalShardKeyPreviousSecretName
}

// Key Vault Secrets User for the publisher's identity on the internal keys, before the settings that refer to it.
module secretAccess '../core/keyvault-roles.bicep' = {
  name: '${deployment().name}-secrets'
  params: {
    keyVaultName: vault.name
    secretNames: [
      internalShardKeySecret.name
      internalShardKeyPreviousSecret.name
    ]
    principalIds: [
      publisher.identity.principalId
    ]
  }
}

// App settings live in their own resource, after the Key Vault role assignments: Internal__ShardKey and
// Internal__PreviousShardKey are Key Vault references without a version (see docs/deploy.md, "Key Vault"),
// resolved by the system-assigned identity.
resource publisherSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: publisher
  name: 'appsettings'
  dependsOn: [
    secretAccess
  ]
  properties: {
    FUNCTIONS_EXTENSION_VERSION: '~4'
    FUNCTIONS_WORKER_RUNTIME: 'dotnet-isolated'
    WEBSITE_RUN_FROM_PACKAGE: '1'
    AzureWebJobsStorage__accountName: storageAccountName
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    Storage__BlobServiceUri: blobEndpoint
    Storage__TableServiceUri: tableEndpoint
    // A request waits this long on a storage read nothing stands in for, then answers 503 + Retry-After (docs/reliability.md).
    Storage__RequestWaitMilliseconds: '1500'
    Publisher__MaxModelBytes: string(maxModelBytes)
    Publisher__GpuCacheBytes: string(gpuCacheBytes)
    Publisher__DefaultMaxModelsPerTenant: string(defaultMaxModelsPerTenant)
    Publisher__DefaultMaxVersionsPerModel: string(defaultMaxVersionsPerModel)
    Publisher__DefaultMaxBytesPerTenant: string(defaultMaxBytesPerTenant)
    Publisher__ValidatorProcesses: string(validatorProcesses)
    Publisher__ValidatorMemoryBytes: string(validatorMemoryBytes)
    Publisher__ValidatorTimeoutSeconds: string(validatorTimeoutSeconds)
    Internal__ShardKey: '@Microsoft.KeyVault(SecretUri=${internalShardKeySecret.properties.secretUri})'
    Internal__PreviousShardKey: '@Microsoft.KeyVault(SecretUri=${internalShardKeyPreviousSecret.properties.secretUri})'
    // Fail closed in Azure: an app whose key is missing refuses to start (docs/reliability.md).
    Internal__AllowMissingKey: 'false'
    // The blob trigger's connection ("ModelDropStorage"), identity-based.
    ModelDropStorage__blobServiceUri: blobEndpoint
    ModelDropStorage__queueServiceUri: queueEndpoint
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
