// azd entry point for the serverless scoring platform: one resource group holding the storage account,
// monitoring, the Key Vault, the router, the publisher, N CPU shard apps on Elastic Premium plans and the
// GPU container app. Local modules only (registry modules cannot be restored offline).
targetScope = 'subscription'

@minLength(1)
@maxLength(48)
@description('azd environment name; names the resource group rg-<environmentName> and seeds the resource names.')
param environmentName string

@minLength(1)
@description('Region for every resource. Pick one with Elastic Premium and serverless GPU (Container Apps) capacity.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the deploying user (azd sets AZURE_PRINCIPAL_ID): gets Blob and Table data access so `serverless publish` works against Azure. Empty: none.')
param principalId string = ''

@description('Number of CPU shard apps (shard-00 … shard-NN).')
@minValue(1)
@maxValue(100)
param shardCount int = 3

@description('Shard apps packed onto one Elastic Premium plan.')
@minValue(1)
@maxValue(100)
param shardsPerPlan int = 3

@description('Elastic Premium SKU of every plan.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string = 'EP1'

@description('Always-ready instances per function app.')
@minValue(1)
@maxValue(20)
param alwaysReady int = 1

@description('Most instances one Elastic Premium plan may scale out to.')
@minValue(1)
@maxValue(100)
param maximumElasticWorkerCount int = 20

@description('Session cache budget per shard instance, in bytes (default 1 GiB).')
@minValue(1048576)
param shardCacheBytes int = 1073741824

@description('Serverless GPU workload profile of the GPU container app.')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@description('The GPU app\'s session budget in bytes (its Shard__CacheBytes; the publisher\'s Publisher__GpuCacheBytes). 4 GiB leaves a T4\'s 16 GB room for activations and batches.')
@minValue(1)
param gpuCacheBytes int = 4294967296

@description('Image of the GPU container app: a placeholder until azd deploys it (azd keeps SERVICE_GPU_IMAGE_NAME).')
param gpuImage string = 'mcr.microsoft.com/dotnet/aspnet:10.0'

@secure()
@description('Internal key (Internal__ShardKey) the router, the publisher and the CLI send to the shards, which trust the tenant header only with it. Stored as Key Vault secret internal-shard-key; the apps read it by Key Vault reference, never as a value. azd passes the vault\'s current value (main.parameters.json, secretOrRandomPassword), so it stays the same across provisions. Default (deployments without azd): a new random value, i.e. a new secret version, which the apps take up only when they restart: pass the current value instead.')
param internalShardKey string = newGuid()

@secure()
@description('The internal key before internalShardKey (Internal__PreviousShardKey), which the shards still accept while a rotation is under way, so that callers not yet restarted keep working. Stored as Key Vault secret internal-shard-key-previous and read by Key Vault reference like internalShardKey; azd passes the vault\'s current value (secretOrRandomPassword), so a provision never changes it, also in the middle of a rotation. Empty (the default, deployments without azd): the value of internalShardKey, as no previous key is needed then; during a rotation pass the current value instead.')
param internalShardKeyPrevious string = ''

@secure()
@description('Admin key of the router\'s /dashboard (Router__AdminKey), given as ?key= or header x-admin-key. Stored as Key Vault secret router-admin-key, read by Key Vault reference; azd keeps it across provisions as it does internalShardKey. Default (without azd): a new random value.')
param routerAdminKey string = newGuid()

@description('The [Function] name of the publisher\'s blob-triggered function.')
param publisherFunctionName string = 'PublishModel'

@description('Create the Event Grid subscription model-drop → publisher. Turn on (ENABLE_MODEL_DROP_EVENTS=true) and provision again after the first deploy.')
param enableModelDropEvents bool = false

@description('Public network access of the shard apps and the GPU app. false (the default): the shards admit only the router\'s and the publisher\'s subnet (access restrictions, default action Deny) and the GPU app\'s environment is internal, so direct mode works from inside the VNet only. true: reachable from anywhere, still only with a key. The GPU environment takes it only when first created (docs/deploy.md).')
param shardsPublicAccess bool = false

@description('Address space of the platform\'s VNet (core/network.bicep carves the callers /24, shards /22 and Container Apps /23 subnets from it). Pick one that does not overlap networks you peer with.')
param vnetAddressPrefix string = '10.40.0.0/16'

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionPrefix = '${abbrs.webSitesFunctions}${resourceToken}'
var planPrefix = '${abbrs.webServerFarms}${resourceToken}'

// Built-in role definition ids.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

// Secrets (the internal shard key and the previous one, the router's admin key): the apps get Key Vault
// references, and each app's module grants its identity Key Vault Secrets User on the secrets it reads.
module keyVault 'core/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    internalShardKey: internalShardKey
    internalShardKeyPrevious: internalShardKeyPrevious
    routerAdminKey: routerAdminKey
    adminPrincipalId: principalId
  }
}

module network 'core/network.bicep' = {
  name: 'network'
  scope: rg
  params: {
    name: '${abbrs.networkVirtualNetworks}${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
  }
}

module shards 'app/shards.bicep' = {
  name: 'shards'
  scope: rg
  params: {
    prefix: functionPrefix
    planPrefix: planPrefix
    location: location
    tags: tags
    shardCount: shardCount
    shardsPerPlan: shardsPerPlan
    premiumSku: premiumSku
    alwaysReady: alwaysReady
    maximumElasticWorkerCount: maximumElasticWorkerCount
    cacheBytes: shardCacheBytes
    subnetId: network.outputs.shardsSubnetId
    callersSubnetId: network.outputs.callersSubnetId
    publicAccess: shardsPublicAccess
    keyVaultName: keyVault.outputs.name
    internalShardKeySecretName: keyVault.outputs.internalShardKeyName
    internalShardKeyPreviousSecretName: keyVault.outputs.internalShardKeyPreviousName
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
  }
}

module router 'app/router.bicep' = {
  name: 'router'
  scope: rg
  params: {
    name: '${functionPrefix}-router'
    planName: '${planPrefix}-router'
    location: location
    tags: tags
    premiumSku: premiumSku
    alwaysReady: alwaysReady
    maximumElasticWorkerCount: maximumElasticWorkerCount
    subnetId: network.outputs.callersSubnetId
    keyVaultName: keyVault.outputs.name
    internalShardKeySecretName: keyVault.outputs.internalShardKeyName
    internalShardKeyPreviousSecretName: keyVault.outputs.internalShardKeyPreviousName
    adminKeySecretName: keyVault.outputs.routerAdminKeyName
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
  }
}

// Publishing is rare and bursty: the publisher shares the router's plan rather than paying for its own.
module publisher 'app/publisher.bicep' = {
  name: 'publisher'
  scope: rg
  params: {
    name: '${functionPrefix}-publisher'
    location: location
    tags: tags
    planId: router.outputs.planId
    subnetId: network.outputs.callersSubnetId
    keyVaultName: keyVault.outputs.name
    internalShardKeySecretName: keyVault.outputs.internalShardKeyName
    internalShardKeyPreviousSecretName: keyVault.outputs.internalShardKeyPreviousName
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    systemTopicName: '${abbrs.eventGridSystemTopics}${resourceToken}-storage'
    publisherFunctionName: publisherFunctionName
    enableModelDropEvents: enableModelDropEvents
    gpuCacheBytes: gpuCacheBytes
  }
}

module gpu 'app/gpu.bicep' = {
  name: 'gpu'
  scope: rg
  params: {
    environmentName: '${abbrs.appManagedEnvironments}${resourceToken}'
    appName: '${abbrs.appContainerApps}${resourceToken}-gpu'
    registryName: '${abbrs.containerRegistryRegistries}${resourceToken}'
    identityName: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}-gpu'
    location: location
    tags: tags
    gpuProfileType: gpuProfileType
    cacheBytes: gpuCacheBytes
    image: gpuImage
    infrastructureSubnetId: network.outputs.containerAppsSubnetId
    virtualNetworkId: network.outputs.id
    publicAccess: shardsPublicAccess
    keyVaultName: keyVault.outputs.name
    internalShardKeySecretName: keyVault.outputs.internalShardKeyName
    internalShardKeyPreviousSecretName: keyVault.outputs.internalShardKeyPreviousName
    logAnalyticsWorkspaceName: monitoring.outputs.logAnalyticsWorkspaceName
    blobEndpoint: storage.outputs.blobEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
  }
}

// Function apps: AzureWebJobsStorage (host state, blob-trigger receipts and poison queues) by identity
// needs Blob Data Owner + Queue Data Contributor; the platform's tables need Table Data Contributor.
module functionAppRoles 'core/roles.bicep' = {
  name: 'roles-function-apps'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    principalIds: concat(shards.outputs.principalIds, [
      router.outputs.principalId
      publisher.outputs.principalId
    ])
    roleDefinitionIds: [
      roles.storageBlobDataOwner
      roles.storageQueueDataContributor
      roles.storageTableDataContributor
    ]
  }
}

// The GPU app has no Functions host: it reads models and writes its heartbeat row.
module gpuRoles 'core/roles.bicep' = {
  name: 'roles-gpu'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    principalIds: [
      gpu.outputs.principalId
    ]
    roleDefinitionIds: [
      roles.storageBlobDataContributor
      roles.storageTableDataContributor
    ]
  }
}

// The deploying user: drop models into model-drop, read the registry, manage tenants.
module userRoles 'core/roles.bicep' = if (!empty(principalId)) {
  name: 'roles-user'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    principalIds: [
      principalId
    ]
    roleDefinitionIds: [
      roles.storageBlobDataContributor
      roles.storageTableDataContributor
    ]
    principalType: ''
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output ROUTER_URL string = router.outputs.uri
output ROUTER_NAME string = router.outputs.name
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output SHARD_NAMES array = shards.outputs.names
output PUBLISHER_NAME string = publisher.outputs.name
output GPU_URL string = gpu.outputs.uri
output GPU_NAME string = gpu.outputs.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = gpu.outputs.registryEndpoint
// Read by main.parameters.json (secretOrRandomPassword) at the next provision, and by `az keyvault secret`.
output VNET_NAME string = network.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
