// Data-plane role assignments on the platform's storage account: every role in roleDefinitionIds for
// every principal in principalIds. No keys anywhere: the apps use their managed identities.

param storageAccountName string

@description('Object ids of the principals (managed identities, or the deploying user).')
param principalIds array

@description('Role definition GUIDs to grant each principal on the storage account.')
param roleDefinitionIds array

@description('ServicePrincipal for managed identities; leave empty for a user (or a principal of unknown type).')
@allowed([
  ''
  'ServicePrincipal'
  'User'
  'Group'
])
param principalType string = 'ServicePrincipal'

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

var roleCount = length(roleDefinitionIds)

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for i in range(0, length(principalIds) * roleCount): {
    name: guid(storage.id, principalIds[i / roleCount], roleDefinitionIds[i % roleCount])
    scope: storage
    properties: {
      principalId: principalIds[i / roleCount]
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionIds[i % roleCount])
      principalType: empty(principalType) ? null : principalType
    }
  }
]
