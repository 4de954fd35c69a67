// The platform's Key Vault: the secrets the apps read by reference, never as values in their settings.
// Azure RBAC only (no access policies): each app's managed identity gets Key Vault Secrets User on the
// secrets it reads (in the app's module, before its settings), the deploying user Key Vault Secrets
// Officer on the vault so that azd can read the values back at the next provision and so the keys can
// be rotated (docs/deploy.md, "Key Vault").

@description('Vault name (3–24 characters, globally unique).')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@secure()
@description('Value of secret internal-shard-key (Internal__ShardKey of the router, the publisher, the shards and the GPU app).')
param internalShardKey string

@secure()
@description('Value of secret internal-shard-key-previous (Internal__PreviousShardKey of the same apps): the key before internal-shard-key, which the shards still accept while a rotation is under way (docs/deploy.md, "Rotating the internal key"). Empty: the value of internalShardKey, so that the secret is never empty (the GPU app cannot start with an empty Key Vault secret, and azd replaces an empty value with a random one).')
param internalShardKeyPrevious string = ''

@secure()
@description('Value of secret router-admin-key (Router__AdminKey of the router).')
param routerAdminKey string

@description('Days a deleted vault (and a deleted secret) can still be recovered; fixed once the vault exists.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 7

@description('Object id of a principal that may read and set the secrets (Key Vault Secrets Officer on the vault): the deploying user. Empty: none.')
param adminPrincipalId string = ''

@description('Type of adminPrincipalId; leave empty for a user (or a principal of unknown type).')
@allowed([
  ''
  'ServicePrincipal'
  'User'
  'Group'
])
param adminPrincipalType string = ''

var secretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // Purge protection stays off (it cannot be turned off again): `azd down --purge` can then free the name.
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
  }
}

resource internalShardKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'internal-shard-key'
  properties: {
    value: internalShardKey
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

// Never empty (see internalShardKeyPrevious): with no rotation under way it holds the current key, or another
// random value nobody sends (azd's first provision).
resource internalShardKeyPreviousSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'internal-shard-key-previous'
  properties: {
    value: empty(internalShardKeyPrevious) ? internalShardKey : internalShardKeyPrevious
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource routerAdminKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'router-admin-key'
  properties: {
    value: routerAdminKey
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(adminPrincipalId)) {
  name: guid(vault.id, adminPrincipalId, secretsOfficerRoleId)
  scope: vault
  properties: {
    principalId: adminPrincipalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficerRoleId)
    principalType: empty(adminPrincipalType) ? null : adminPrincipalType
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
// Names only: the apps' modules refer to the secrets by name (Key Vault references without a version).
output internalShardKeyName string = internalShardKeySecret.name
output internalShardKeyPreviousName string = internalShardKeyPreviousSecret.name
output routerAdminKeyName string = routerAdminKeySecret.name
