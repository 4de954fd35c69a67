// Read access to Key Vault secrets: Key Vault Secrets User for every principal in principalIds on every
// secret in secretNames (scoped to the secret, not the vault: an app reads only the secrets it uses).
// The app modules call this before their settings so that a Key Vault reference resolves at first start.

@description('Name of the platform\'s Key Vault (core/keyvault.bicep).')
param keyVaultName string

@description('Names of the secrets the principals may read.')
param secretNames array

@description('Object ids of the principals (managed identities).')
param principalIds array

@description('ServicePrincipal for managed identities; leave empty for a user (or a principal of unknown type).')
@allowed([
  ''
  'ServicePrincipal'
  'User'
  'Group'
])
param principalType string = 'ServicePrincipal'

// Built-in role Key Vault Secrets User: get and list secret values.
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var secretCount = length(secretNames)

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [
  for secretName in secretNames: {
    parent: vault
    name: secretName
  }
]

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for i in range(0, length(principalIds) * secretCount): {
    name: guid(secrets[i % secretCount].id, principalIds[i / secretCount], keyVaultSecretsUserRoleId)
    scope: secrets[i % secretCount]
    properties: {
      principalId: principalIds[i / secretCount]
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
      principalType: empty(principalType) ? null : principalType
    }
  }
]
