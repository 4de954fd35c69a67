// A private DNS zone that resolves every name under an internal Container Apps environment's default domain to the
// environment's static (private) address, linked to the platform's VNet: the router and the publisher (VNet-
// integrated) reach the GPU app at its usual host name. Its own module because the zone's name is the
// environment's default domain, known only once the environment exists.

@description('The zone: the internal environment\'s default domain.')
param zoneName string

@description('The environment\'s static IP address inside the VNet.')
param staticIp string

@description('Resource id of the VNet to link.')
param virtualNetworkId string

param tags object = {}

resource zone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: zoneName
  location: 'global'
  tags: tags
}

resource wildcard 'Microsoft.Network/privateDnsZones/A@2024-06-01' = {
  parent: zone
  name: '*'
  properties: {
    ttl: 300
    aRecords: [
      {
        ipv4Address: staticIp
      }
    ]
  }
}

resource apex 'Microsoft.Network/privateDnsZones/A@2024-06-01' = {
  parent: zone
  name: '@'
  properties: {
    ttl: 300
    aRecords: [
      {
        ipv4Address: staticIp
      }
    ]
  }
}

resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: zone
  name: 'platform-vnet'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: virtualNetworkId
    }
  }
}

output name string = zone.name
