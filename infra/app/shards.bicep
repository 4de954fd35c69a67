// The CPU shard pool: shardCount copies of the Serverless.Shard function app, named
// <prefix>-shard-00 … , packed shardsPerPlan to an Elastic Premium plan. Each shard is its own app
// (own instances, own session cache, own scale decisions) so a hot shard scales out alone.

@description('Name prefix: the apps are <prefix>-shard-NN.')
param prefix string

@description('Name prefix for the Elastic Premium plans.')
param planPrefix string

param location string
param tags object = {}

@minValue(1)
@maxValue(100)
param shardCount int

@minValue(1)
@maxValue(100)
param shardsPerPlan int

@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string

@description('Always-ready instances per shard app (Premium plan minimum; these are billed around the clock).')
@minValue(1)
@maxValue(20)
param alwaysReady int

@description('Most instances one plan (and so one shard app) may scale out to.')
@minValue(1)
@maxValue(100)
param maximumElasticWorkerCount int

@description('Session cache budget per shard instance, in bytes.')
param cacheBytes int

// Sections Shard and Scaling (ShardOptions, ScalingOptions) beyond id, pool, URL and cache; the defaults are the code's.
@description('How long a stopping shard keeps serving as Draining while routers move its models (Shard__DrainSeconds).')
@minValue(0)
@maxValue(300)
param drainSeconds int = 3

@description('How often the shard renews its row in Table shards (Shard__HeartbeatSeconds).')
@minValue(1)
@maxValue(300)
param heartbeatSeconds int = 5

@description('Local disk tier folder for model files (Shard__DiskTierPath). Empty: a folder under the temp path named after the shard (the code\'s default).')
param diskTierPath string = ''

@description('Local disk tier budget in bytes (Shard__DiskTierBytes); 0 turns the tier off. Keep it under the instance\'s local disk.')
@minValue(0)
param diskTierBytes int = 10737418240

@description('Requests of one model running at once on a shard instance (Shard__MaxConcurrentRequestsPerModel).')
@minValue(1)
param maxConcurrentRequestsPerModel int = 64

@description('Requests of one model waiting for a slot before the next gets 429 (Shard__MaxQueuedRequestsPerModel).')
@minValue(0)
param maxQueuedRequestsPerModel int = 256

@description('Resident bytes above which an instance loads no new model (Shard__MemoryLimitBytes); 0 = 90% of the memory the runtime may use.')
@minValue(0)
param memoryLimitBytes int = 0

@description('Request quota per second applied to a direct-mode caller whose tenant row sets none (Shard__DefaultTenantRequestsPerSecond); keep it equal to the router\'s Router__DefaultTenantRequestsPerSecond.')
@minValue(1)
param defaultTenantRequestsPerSecond int = 1000

@description('Memory one inference request may take on a shard, body and decoded tensors (Shard__MaxRequestMemoryBytes); over it 413.')
@minValue(1048576)
param maxRequestMemoryBytes int = 268435456

@description('Memory all requests in flight on a shard may take together (Shard__InFlightMemoryBytes); over it 503 with Retry-After.')
@minValue(1048576)
param inFlightMemoryBytes int = 1073741824

@description('Runs of one tenant\'s models at once on a shard (Shard__MaxConcurrentRunsPerTenant); 0 = the processor count, at least 2.')
@minValue(0)
param maxConcurrentRunsPerTenant int = 0

@description('Runs of one tenant waiting for a slot on a shard before the next gets 429 (Shard__MaxQueuedRunsPerTenant).')
@minValue(0)
param maxQueuedRunsPerTenant int = 1024

@description('Bytes of output tensors one run may answer when the model.json sets no maxOutputBytes (Shard__DefaultMaxOutputBytes); over it 400.')
@minValue(1024)
param defaultMaxOutputBytes int = 67108864

@description('Model loads (bytes read + session created) at once on a shard (Shard__MaxConcurrentLoads); loads requests wait on go before warm-ups; 0 = four per processor, at least 4.')
@minValue(0)
@maxValue(1024)
param maxConcurrentLoads int = 0

@description('Bytes of pinned (serverless scale MODEL --min-resident) sessions a shard keeps resident, never evicted (Shard__PinnedBytes); at most half of cacheBytes; -1 = an eighth of cacheBytes, 0 = no pins kept.')
@minValue(-1)
param pinnedBytes int = -1

@description('How often a shard re-reads which models are pinned (Shard__PinRefreshSeconds).')
@minValue(1)
@maxValue(3600)
param pinRefreshSeconds int = 10

@description('Most models an instance prewarms at start (Shard__PrewarmModels).')
@minValue(0)
@maxValue(10000)
param prewarmModels int = 50

@description('ONNX Runtime execution provider of the CPU shards (Ort__ExecutionProvider).')
@allowed([
  'cpu'
  'cuda'
])
param ortExecutionProvider string = 'cpu'

@description('GPU device id when the provider is cuda (Ort__DeviceId).')
param ortDeviceId int = 0

@description('Models whose file is at most this many bytes get compact CPU sessions: basic graph optimizations, no per-session arena or memory patterns, ~40 KiB per tiny session instead of ~73 KiB (Ort__CompactSessionMaxBytes; 0 turns them off).')
@minValue(0)
param ortCompactSessionMaxBytes int = 65536

@description('Memory every CPU run of a process may hold at once in ONNX Runtime tensors (intermediates and outputs, not weights), one arena shared by all sessions (Ort__RunMemoryBytes; 0 turns it off, at most 4 GiB); a run asking for more fails inside ONNX Runtime: 400 when one tensor is larger than all of it, else 503.')
@minValue(0)
@maxValue(4294967295)
param ortRunMemoryBytes int = 1073741824

@description('The .NET gen0 budget of a shard, in hex bytes (DOTNET_GCgen0size). The runtime sizes it from the L3 cache the machine reports, which on some VMs lets tens of MB of garbage accumulate between collections; a shard\'s memory is its model budget.')
param gcGen0Size string = '0x1000000'

@description('Time budget of the prewarm in seconds; the instance reports ready when it is spent at the latest (Shard__PrewarmSeconds).')
@minValue(1)
@maxValue(600)
param prewarmSeconds int = 20

@description('Requests being served at once, on average, that one replica of a model should carry; above it the model gets another (Scaling__ConcurrencyPerReplica; a number, as text).')
param concurrencyPerReplica string = '1'

@description('Share of a replica\'s CPU one model should use; above it the model gets another; 0: off (Scaling__UtilizationPerReplica; a number from 0 to 1, as text).')
param utilizationPerReplica string = '0.7'

@description('Requests per second one replica of a model should carry as well; 0: the rate alone adds no replica (Scaling__RequestsPerReplica; a number, as text).')
param requestsPerReplica string = '0'

@description('Most replicas a model can have (Scaling__MaxReplicas).')
@minValue(1)
@maxValue(256)
param maxModelReplicas int = 8

@description('How often the shard looks at its per-model traffic, in seconds (Scaling__IntervalSeconds).')
@minValue(1)
@maxValue(3600)
param scalingIntervalSeconds int = 10

@description('How long a model must need fewer replicas before it gives one back (Scaling__ScaleDownAfter, a .NET TimeSpan: hh:mm:ss).')
param scaleDownAfter string = '00:01:00'

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

@description('Subnet the shard plans integrate with (core/network.bicep, delegated to Microsoft.Web/serverFarms; every shard plan joins it).')
param subnetId string

@description('Subnet of the shards\' callers (the router\'s plan, which the publisher shares): the one source the access restrictions admit when public access is off.')
param callersSubnetId string

@description('Public network access of the shard apps: false (the default) admits only the callers\' subnet (router, publisher), so direct mode works from inside the VNet only; true admits anyone, who still needs a tenant key.')
param publicAccess bool = false

var planCount = (shardCount + shardsPerPlan - 1) / shardsPerPlan
var serviceTags = union(tags, { 'serverless-role': 'shard' })

resource plans 'Microsoft.Web/serverfarms@2024-04-01' = [
  for p in range(0, planCount): {
    name: '${planPrefix}-shard-${padLeft(p, 2, '0')}'
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
]

// azd deploys a service to exactly one resource tagged azd-service-name, so only shard-00 carries
// `azd-service-name: shard`; every shard carries `serverless-role: shard`, and the shard service's
// postdeploy hook in azure.yaml pushes the same package to the others.
resource shards 'Microsoft.Web/sites@2024-04-01' = [
  for i in range(0, shardCount): {
    name: '${prefix}-shard-${padLeft(i, 2, '0')}'
    location: location
    tags: i == 0 ? union(serviceTags, { 'azd-service-name': 'shard' }) : serviceTags
    kind: 'functionapp,linux'
    identity: {
      type: 'SystemAssigned'
    }
    properties: {
      serverFarmId: plans[i / shardsPerPlan].id
      reserved: true
      httpsOnly: true
      clientAffinityEnabled: false
      // Outbound through the VNet for what is in it (RFC 1918 addresses); storage and the rest stay direct.
      virtualNetworkSubnetId: subnetId
      vnetRouteAllEnabled: false
      // Enabled, and narrowed by the access restrictions below: the callers come through the Microsoft.Web service
      // endpoint of their subnet, which reaches the public endpoint (Disabled would admit private endpoints only).
      publicNetworkAccess: 'Enabled'
      siteConfig: {
        ipSecurityRestrictionsDefaultAction: publicAccess ? 'Allow' : 'Deny'
        ipSecurityRestrictions: [
          {
            name: 'platform-callers'
            description: 'The router and the publisher (their plan\'s VNet integration subnet)'
            action: 'Allow'
            priority: 100
            vnetSubnetResourceId: callersSubnetId
          }
        ]
        // The deployment endpoint (azd deploy from a developer's machine) keeps its own rules: Entra-authenticated.
        scmIpSecurityRestrictionsUseMain: false
        scmIpSecurityRestrictionsDefaultAction: 'Allow'
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
]

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

// Key Vault Secrets User for every shard's identity on the internal keys, before the settings that refer to it.
module secretAccess '../core/keyvault-roles.bicep' = {
  name: '${deployment().name}-secrets'
  params: {
    keyVaultName: vault.name
    secretNames: [
      internalShardKeySecret.name
      internalShardKeyPreviousSecret.name
    ]
    principalIds: [for i in range(0, shardCount): shards[i].identity.principalId]
  }
}

// App settings live in their own resource so that Shard__BaseUrl can use the app's real default host
// name (which may be a regional unique name, not always <name>.azurewebsites.net), and so that they come
// after the Key Vault role assignments: Internal__ShardKey and Internal__PreviousShardKey are Key Vault
// references without a version (see docs/deploy.md, "Key Vault"), resolved by the app's system-assigned identity.
// No Azure Files content share: shared keys are off on the account, so the Linux Premium apps keep
// their code in App Service storage and run from the deployed package.
resource shardSettings 'Microsoft.Web/sites/config@2024-04-01' = [
  for i in range(0, shardCount): {
    parent: shards[i]
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
      Shard__Id: 'shard-${padLeft(i, 2, '0')}'
      Shard__Pool: 'cpu'
      Shard__BaseUrl: 'https://${shards[i].properties.defaultHostName}'
      Shard__CacheBytes: string(cacheBytes)
      Shard__DrainSeconds: string(drainSeconds)
      Shard__HeartbeatSeconds: string(heartbeatSeconds)
      Shard__DiskTierPath: diskTierPath
      Shard__DiskTierBytes: string(diskTierBytes)
      Shard__PrewarmModels: string(prewarmModels)
      Shard__MaxConcurrentLoads: string(maxConcurrentLoads)
      Shard__PinnedBytes: string(pinnedBytes)
      Shard__PinRefreshSeconds: string(pinRefreshSeconds)
      Shard__PrewarmSeconds: string(prewarmSeconds)
      Shard__MaxConcurrentRequestsPerModel: string(maxConcurrentRequestsPerModel)
      Shard__MaxQueuedRequestsPerModel: string(maxQueuedRequestsPerModel)
      Shard__MemoryLimitBytes: string(memoryLimitBytes)
      Shard__DefaultTenantRequestsPerSecond: string(defaultTenantRequestsPerSecond)
      Shard__MaxRequestMemoryBytes: string(maxRequestMemoryBytes)
      Shard__InFlightMemoryBytes: string(inFlightMemoryBytes)
      Shard__MaxConcurrentRunsPerTenant: string(maxConcurrentRunsPerTenant)
      Shard__MaxQueuedRunsPerTenant: string(maxQueuedRunsPerTenant)
      Shard__DefaultMaxOutputBytes: string(defaultMaxOutputBytes)
      Ort__ExecutionProvider: ortExecutionProvider
      Ort__DeviceId: string(ortDeviceId)
      Ort__CompactSessionMaxBytes: string(ortCompactSessionMaxBytes)
      Ort__RunMemoryBytes: string(ortRunMemoryBytes)
      DOTNET_GCgen0size: gcGen0Size
      Scaling__ConcurrencyPerReplica: concurrencyPerReplica
      Scaling__UtilizationPerReplica: utilizationPerReplica
      Scaling__RequestsPerReplica: requestsPerReplica
      Scaling__MaxReplicas: string(maxModelReplicas)
      Scaling__IntervalSeconds: string(scalingIntervalSeconds)
      Scaling__ScaleDownAfter: scaleDownAfter
      Internal__ShardKey: '@Microsoft.KeyVault(SecretUri=${internalShardKeySecret.properties.secretUri})'
      Internal__PreviousShardKey: '@Microsoft.KeyVault(SecretUri=${internalShardKeyPreviousSecret.properties.secretUri})'
      // Fail closed in Azure: an app whose key is missing refuses to start (docs/reliability.md).
      Internal__AllowMissingKey: 'false'
    }
  }
]

output names array = [for i in range(0, shardCount): shards[i].name]
output principalIds array = [for i in range(0, shardCount): shards[i].identity.principalId]
output baseUrls array = [for i in range(0, shardCount): 'https://${shards[i].properties.defaultHostName}']
output planNames array = [for p in range(0, planCount): plans[p].name]
