// The GPU pool: an Azure Container Apps environment with a serverless GPU workload profile, the `gpu`
// container app (Serverless.Gpu: same protocol as a shard, CUDA execution provider, CPU fallback) and
// the container registry azd pushes its image to. Serverless GPUs need quota and a supported region.

param environmentName string
param appName string
param registryName string
param identityName string
param location string
param tags object = {}

@description('Workload profile type of the GPU profile (serverless GPU).')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@description('Container image. A placeholder until `azd deploy gpu` pushes the real one (azd then keeps it in SERVICE_GPU_IMAGE_NAME).')
param image string = 'mcr.microsoft.com/dotnet/aspnet:10.0'

@description('Replicas kept running: 0 lets the GPU app scale to zero (serverless GPU is billed per second while a replica runs).')
@minValue(0)
@maxValue(10)
param minReplicas int = 0

@minValue(1)
@maxValue(30)
param maxReplicas int = 3

param logAnalyticsWorkspaceName string
param blobEndpoint string
param tableEndpoint string
param applicationInsightsConnectionString string

@description('Name of the platform\'s Key Vault (core/keyvault.bicep).')
param keyVaultName string

@description('Key Vault secret of the internal key the shards require (Internal__ShardKey: a Container Apps secret that refers to it).')
param internalShardKeySecretName string

@description('Key Vault secret of the previous internal key (Internal__PreviousShardKey: a Container Apps secret that refers to it), still accepted during a rotation.')
param internalShardKeyPreviousSecretName string

@description('Session cache budget in bytes.')
param cacheBytes int = 4294967296

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

@description('Requests of one model running at once (Shard__MaxConcurrentRequestsPerModel).')
@minValue(1)
param maxConcurrentRequestsPerModel int = 64

@description('Requests of one model waiting for a slot before the next gets 429 (Shard__MaxQueuedRequestsPerModel).')
@minValue(0)
param maxQueuedRequestsPerModel int = 256

@description('Resident bytes above which the app loads no new model (Shard__MemoryLimitBytes); 0 = 90% of the memory the runtime may use.')
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

@description('ONNX Runtime execution provider of the GPU app: cuda, falling back to cpu with a log line (Ort__ExecutionProvider).')
@allowed([
  'cpu'
  'cuda'
])
param ortExecutionProvider string = 'cuda'

@description('GPU device id (Ort__DeviceId).')
param ortDeviceId int = 0

@description('The .NET gen0 budget of the app, in hex bytes (DOTNET_GCgen0size), as for the shards: the runtime sizes it from the L3 cache the machine reports, which on some VMs lets tens of MB of garbage accumulate between collections.')
param gcGen0Size string = '0x1000000'

@description('Models whose file is at most this many bytes get compact CPU sessions: basic graph optimizations, no per-session arena or memory patterns, ~40 KiB per tiny session instead of ~73 KiB (Ort__CompactSessionMaxBytes; 0 turns them off).')
@minValue(0)
param ortCompactSessionMaxBytes int = 65536

@description('Memory every CPU run of a process may hold at once in ONNX Runtime tensors (intermediates and outputs, not weights), one arena shared by all sessions (Ort__RunMemoryBytes; 0 turns it off, at most 4 GiB); a run asking for more fails inside ONNX Runtime: 400 when one tensor is larger than all of it, else 503.')
@minValue(0)
@maxValue(4294967295)
param ortRunMemoryBytes int = 1073741824

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

@description('Subnet of the Container Apps environment (core/network.bicep, delegated to Microsoft.App/environments).')
param infrastructureSubnetId string

@description('Resource id of the platform\'s VNet: an internal environment\'s private DNS zone is linked to it.')
param virtualNetworkId string

@description('Public network access of the GPU app: false (the default) makes its environment internal, reachable from the VNet only (the router and the publisher, integrated with it); true makes it external, reachable from anywhere with a key. Fixed when the environment is created: to change it, delete the GPU app and its environment, then provision.')
param publicAccess bool = false

// Section HttpLimits (HttpLimitsOptions): the GPU app is its own Kestrel host, with no Functions front end before it.
@description('Slowest request body accepted after the grace, in bytes per second; slower, the connection is cut (HttpLimits__MinRequestBodyBytesPerSecond; 0: off).')
@minValue(0)
param httpMinRequestBodyBytesPerSecond int = 240

@description('Seconds a request body may arrive slower than that first (HttpLimits__MinRequestBodyGraceSeconds).')
@minValue(1)
@maxValue(300)
param httpMinRequestBodyGraceSeconds int = 5

@description('Seconds from a connection\'s first byte to the end of the request headers (HttpLimits__RequestHeadersTimeoutSeconds).')
@minValue(1)
@maxValue(300)
param httpRequestHeadersTimeoutSeconds int = 10

@description('Seconds an idle keep-alive connection stays open (HttpLimits__KeepAliveTimeoutSeconds); keep it above the router\'s 1 min pooled-connection idle time.')
@minValue(1)
@maxValue(3600)
param httpKeepAliveTimeoutSeconds int = 130

@description('Most headers in one request; more answer 431 (HttpLimits__MaxRequestHeaderCount).')
@minValue(1)
@maxValue(10000)
param httpMaxRequestHeaderCount int = 100

@description('Largest total size of a request\'s headers in bytes; larger answer 431 (HttpLimits__MaxRequestHeadersTotalBytes).')
@minValue(4096)
@maxValue(1048576)
param httpMaxRequestHeadersTotalBytes int = 32768

@description('Most open connections per replica; 0: no limit (HttpLimits__MaxConcurrentConnections).')
@minValue(0)
param httpMaxConcurrentConnections int = 0

var gpuProfileName = 'gpu'
// CPU and memory of one replica on the GPU profile (the whole T4 or A100 card).
var gpuResources = gpuProfileType == 'Consumption-GPU-NC8as-T4'
  ? { cpu: json('8.0'), memory: '56Gi' }
  : { cpu: json('24.0'), memory: '220Gi' }
var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsWorkspaceName
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: registryName
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, acrPullRoleId)
  scope: registry
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
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

// Key Vault Secrets User for the app's identity on the internal keys: Container Apps reads the secret when it
// creates a revision, so the app waits for this.
module secretAccess '../core/keyvault-roles.bicep' = {
  name: '${deployment().name}-secrets'
  params: {
    keyVaultName: vault.name
    secretNames: [
      internalShardKeySecret.name
      internalShardKeyPreviousSecret.name
    ]
    principalIds: [
      identity.properties.principalId
    ]
  }
}

resource containerEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    // Internal when public access is off: the environment gets a private address only, and the router reaches the
    // app through the private DNS zone below. Its ingress stays "external" (to the environment), i.e. the VNet.
    vnetConfiguration: {
      infrastructureSubnetId: infrastructureSubnetId
      internal: !publicAccess
    }
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logAnalytics.properties.customerId
        sharedKey: logAnalytics.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
      {
        name: gpuProfileName
        workloadProfileType: gpuProfileType
      }
    ]
  }
}

// An internal environment's names resolve only through a private DNS zone linked to the VNet.
module privateDns '../core/private-dns-zone.bicep' = if (!publicAccess) {
  name: '${deployment().name}-dns'
  params: {
    zoneName: containerEnvironment.properties.defaultDomain
    staticIp: containerEnvironment.properties.staticIp
    virtualNetworkId: virtualNetworkId
    tags: tags
  }
}

// The app's FQDN is <app>.<environment default domain>, known before the app exists.
var baseUrl = 'https://${appName}.${containerEnvironment.properties.defaultDomain}'

resource gpuApp 'Microsoft.App/containerApps@2024-03-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'gpu' })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  dependsOn: [
    acrPull
    secretAccess
  ]
  properties: {
    environmentId: containerEnvironment.id
    workloadProfileName: gpuProfileName
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: 8080
        transport: 'auto'
        allowInsecure: false
      }
      // Key Vault references without a version, read with the app's identity. A running revision keeps the
      // values it started with: after a new version, restart it (docs/deploy.md, "Rotating the internal key").
      secrets: [
        {
          name: 'internal-shard-key'
          keyVaultUrl: internalShardKeySecret.properties.secretUri
          identity: identity.id
        }
        {
          name: 'internal-shard-key-previous'
          keyVaultUrl: internalShardKeyPreviousSecret.properties.secretUri
          identity: identity.id
        }
      ]
      registries: [
        {
          server: registry.properties.loginServer
          identity: identity.id
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'gpu'
          image: image
          resources: gpuResources
          env: [
            { name: 'ASPNETCORE_HTTP_PORTS', value: '8080' }
            { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
            { name: 'Storage__BlobServiceUri', value: blobEndpoint }
            { name: 'Storage__TableServiceUri', value: tableEndpoint }
            { name: 'Storage__RequestWaitMilliseconds', value: '1500' }
            { name: 'Shard__Id', value: 'gpu-00' }
            { name: 'Shard__Pool', value: 'gpu' }
            { name: 'Shard__BaseUrl', value: baseUrl }
            { name: 'Shard__CacheBytes', value: string(cacheBytes) }
            { name: 'Shard__DrainSeconds', value: string(drainSeconds) }
            { name: 'Shard__MaxConcurrentRequestsPerModel', value: string(maxConcurrentRequestsPerModel) }
            { name: 'Shard__MaxQueuedRequestsPerModel', value: string(maxQueuedRequestsPerModel) }
            { name: 'Shard__MemoryLimitBytes', value: string(memoryLimitBytes) }
            { name: 'Shard__DefaultTenantRequestsPerSecond', value: string(defaultTenantRequestsPerSecond) }
            { name: 'Shard__MaxRequestMemoryBytes', value: string(maxRequestMemoryBytes) }
            { name: 'Shard__InFlightMemoryBytes', value: string(inFlightMemoryBytes) }
            { name: 'Shard__MaxConcurrentRunsPerTenant', value: string(maxConcurrentRunsPerTenant) }
            { name: 'Shard__MaxQueuedRunsPerTenant', value: string(maxQueuedRunsPerTenant) }
            { name: 'Shard__DefaultMaxOutputBytes', value: string(defaultMaxOutputBytes) }
            { name: 'Shard__HeartbeatSeconds', value: string(heartbeatSeconds) }
            { name: 'Shard__DiskTierPath', value: diskTierPath }
            { name: 'Shard__DiskTierBytes', value: string(diskTierBytes) }
            { name: 'Shard__PrewarmModels', value: string(prewarmModels) }
            { name: 'Shard__MaxConcurrentLoads', value: string(maxConcurrentLoads) }
            { name: 'Shard__PinnedBytes', value: string(pinnedBytes) }
            { name: 'Shard__PinRefreshSeconds', value: string(pinRefreshSeconds) }
            { name: 'Shard__PrewarmSeconds', value: string(prewarmSeconds) }
            { name: 'Ort__ExecutionProvider', value: ortExecutionProvider }
            { name: 'Ort__DeviceId', value: string(ortDeviceId) }
            { name: 'Ort__CompactSessionMaxBytes', value: string(ortCompactSessionMaxBytes) }
            { name: 'Ort__RunMemoryBytes', value: string(ortRunMemoryBytes) }
            { name: 'DOTNET_GCgen0size', value: gcGen0Size }
            { name: 'Scaling__ConcurrencyPerReplica', value: concurrencyPerReplica }
            { name: 'Scaling__UtilizationPerReplica', value: utilizationPerReplica }
            { name: 'Scaling__RequestsPerReplica', value: requestsPerReplica }
            { name: 'Scaling__MaxReplicas', value: string(maxModelReplicas) }
            { name: 'Scaling__IntervalSeconds', value: string(scalingIntervalSeconds) }
            { name: 'Scaling__ScaleDownAfter', value: scaleDownAfter }
            { name: 'HttpLimits__MinRequestBodyBytesPerSecond', value: string(httpMinRequestBodyBytesPerSecond) }
            { name: 'HttpLimits__MinRequestBodyGraceSeconds', value: string(httpMinRequestBodyGraceSeconds) }
            { name: 'HttpLimits__RequestHeadersTimeoutSeconds', value: string(httpRequestHeadersTimeoutSeconds) }
            { name: 'HttpLimits__KeepAliveTimeoutSeconds', value: string(httpKeepAliveTimeoutSeconds) }
            { name: 'HttpLimits__MaxRequestHeaderCount', value: string(httpMaxRequestHeaderCount) }
            { name: 'HttpLimits__MaxRequestHeadersTotalBytes', value: string(httpMaxRequestHeadersTotalBytes) }
            { name: 'HttpLimits__MaxConcurrentConnections', value: string(httpMaxConcurrentConnections) }
            { name: 'Internal__ShardKey', secretRef: 'internal-shard-key' }
            { name: 'Internal__PreviousShardKey', secretRef: 'internal-shard-key-previous' }
            { name: 'Internal__AllowMissingKey', value: 'false' }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-concurrency'
            http: {
              metadata: {
                concurrentRequests: '32'
              }
            }
          }
        ]
      }
    }
  }
}

output name string = gpuApp.name
output uri string = 'https://${gpuApp.properties.configuration.ingress.fqdn}'
output principalId string = identity.properties.principalId
output registryEndpoint string = registry.properties.loginServer
output registryName string = registry.name
