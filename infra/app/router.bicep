// The router: the platform's public Open Inference Protocol endpoint, a function app on its own
// Elastic Premium plan (the publisher shares this plan; see main.bicep).

param name string
param planName string
param location string
param tags object = {}

@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string

@minValue(1)
@maxValue(20)
param alwaysReady int

@minValue(1)
@maxValue(100)
param maximumElasticWorkerCount int

param storageAccountName string
param blobEndpoint string
param tableEndpoint string
param applicationInsightsConnectionString string

@secure()
@description('Internal key sent to / required by the shards (Internal__ShardKey); from main.bicep.')
param internalShardKey string

@secure()
@description('Admin key of /dashboard (Router__AdminKey); from main.bicep.')
param adminKey string

// Section Router (RouterOptions); the defaults are the code's.
@description('Largest request body accepted, in bytes (Router__MaxBodyBytes); larger ones get 413.')
@minValue(1024)
@maxValue(2147483648)
param maxBodyBytes int = 33554432

@description('Request quota of a tenant whose row sets none, per second (Router__DefaultTenantRequestsPerSecond).')
@minValue(1)
@maxValue(10000000)
param defaultTenantRequestsPerSecond int = 1000

@description('How long one forward to a shard may take before the next replica is tried (Router__ForwardTimeoutSeconds).')
@minValue(1)
@maxValue(600)
param forwardTimeoutSeconds int = 30

@description('Deadline of one inference request at the router, retries included; past it 504 (Router__RequestTimeoutSeconds).')
@minValue(1)
@maxValue(600)
param requestTimeoutSeconds int = 30

@description('How long a connection attempt to a shard may take (Router__ConnectTimeoutSeconds).')
@minValue(1)
@maxValue(60)
param connectTimeoutSeconds int = 2

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'elastic'
  sku: {
    name: premiumSku
    tier: 'ElasticPremium'
  }
  properties: {
    reserved: true
    maximumElasticWorkerCount: maximumElasticWorkerCount
  }
}

resource router 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'router' })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    reserved: true
    httpsOnly: true
    clientAffinityEnabled: false
    siteConfig: {
      linuxFxVersion: 'DOTNET-ISOLATED|10.0'
      minimumElasticInstanceCount: alwaysReady
      functionAppScaleLimit: maximumElasticWorkerCount
      alwaysOn: false
      http20Enabled: true
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
        { name: 'Router__MaxBodyBytes', value: string(maxBodyBytes) }
        { name: 'Router__DefaultTenantRequestsPerSecond', value: string(defaultTenantRequestsPerSecond) }
        { name: 'Router__ForwardTimeoutSeconds', value: string(forwardTimeoutSeconds) }
        { name: 'Router__ConnectTimeoutSeconds', value: string(connectTimeoutSeconds) }
        { name: 'Router__RequestTimeoutSeconds', value: string(requestTimeoutSeconds) }
        { name: 'Internal__ShardKey', value: internalShardKey }
        { name: 'Router__AdminKey', value: adminKey }
      ]
    }
  }
}

output name string = router.name
output uri string = 'https://${router.properties.defaultHostName}'
output principalId string = router.identity.principalId
output planId string = plan.id
