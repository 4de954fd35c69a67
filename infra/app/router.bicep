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

@description('The callers\' subnet (core/network.bicep, delegated to Microsoft.Web/serverFarms) the router integrates with.')
param subnetId string

param storageAccountName string
param blobEndpoint string
param tableEndpoint string
param applicationInsightsConnectionString string

@description('Name of the platform\'s Key Vault (core/keyvault.bicep).')
param keyVaultName string

@description('Key Vault secret of the internal key sent to the shards (Internal__ShardKey, a Key Vault reference).')
param internalShardKeySecretName string

@description('Key Vault secret of the previous internal key (Internal__PreviousShardKey, a Key Vault reference): still accepted by the shards during a rotation.')
param internalShardKeyPreviousSecretName string

@description('Key Vault secret of the admin key of /dashboard (Router__AdminKey, a Key Vault reference).')
param adminKeySecretName string

// Section Router (RouterOptions); the defaults are the code's.
@description('Largest request body accepted, in bytes (Router__MaxBodyBytes); larger ones get 413.')
@minValue(1024)
@maxValue(2147483648)
param maxBodyBytes int = 33554432

@description('What every request body the router is reading or forwarding may hold together, in bytes (Router__InFlightBodyBytes); over it 503 + Retry-After.')
@minValue(1024)
param inFlightBodyBytes int = 536870912

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
    // Every outbound call through the callers' subnet: its Microsoft.Web service endpoint is what the shards' and
    // the GPU app's access restrictions admit, and the internal GPU environment resolves only inside the VNet.
    virtualNetworkSubnetId: subnetId
    vnetRouteAllEnabled: true
    siteConfig: {
      linuxFxVersion: 'DOTNET-ISOLATED|10.0'
      minimumElasticInstanceCount: alwaysReady
      functionAppScaleLimit: maximumElasticWorkerCount
      alwaysOn: false
      http20Enabled: true
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

resource adminKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: adminKeySecretName
}

// Key Vault Secrets User for the router's identity on the three secrets, before the settings that refer to them.
module secretAccess '../core/keyvault-roles.bicep' = {
  name: '${deployment().name}-secrets'
  params: {
    keyVaultName: vault.name
    secretNames: [
      internalShardKeySecret.name
      internalShardKeyPreviousSecret.name
      adminKeySecret.name
    ]
    principalIds: [
      router.identity.principalId
    ]
  }
}

// App settings live in their own resource, after the Key Vault role assignments: the secrets are Key Vault
// references without a version (the latest version is used; see docs/deploy.md, "Key Vault"), resolved by
// the app's system-assigned identity.
resource routerSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: router
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
    Router__MaxBodyBytes: string(maxBodyBytes)
    Router__InFlightBodyBytes: string(inFlightBodyBytes)
    Router__DefaultTenantRequestsPerSecond: string(defaultTenantRequestsPerSecond)
    Router__ForwardTimeoutSeconds: string(forwardTimeoutSeconds)
    Router__ConnectTimeoutSeconds: string(connectTimeoutSeconds)
    Router__RequestTimeoutSeconds: string(requestTimeoutSeconds)
    // The dashboard's registry census (docs/observability.md): what one pass reads at most and how often, the lists' lengths.
    Dashboard__MaxRowsPerPass: '250000'
    Dashboard__MinIntervalSeconds: '5'
    Dashboard__IdleFactor: '10'
    Dashboard__FirstPassWaitMilliseconds: '2000'
    Dashboard__TopTenants: '20'
    Dashboard__RecentPublishes: '15'
    Dashboard__PublishLookbackDays: '7'
    Internal__ShardKey: '@Microsoft.KeyVault(SecretUri=${internalShardKeySecret.properties.secretUri})'
    Internal__PreviousShardKey: '@Microsoft.KeyVault(SecretUri=${internalShardKeyPreviousSecret.properties.secretUri})'
    // Fail closed in Azure: an app whose key is missing refuses to start (docs/reliability.md).
    Internal__AllowMissingKey: 'false'
    Router__AdminKey: '@Microsoft.KeyVault(SecretUri=${adminKeySecret.properties.secretUri})'
  }
}

output name string = router.name
output uri string = 'https://${router.properties.defaultHostName}'
output principalId string = router.identity.principalId
output planId string = plan.id
