// The platform's virtual network: the subnets the function apps integrate with (outbound) and the Container Apps
// environment of the GPU app lives in. The shards admit only the callers' subnet (router and publisher) unless
// their public access is on (main.bicep, shardsPublicAccess); the GPU app's environment is internal then.

param name string
param location string
param tags object = {}

@description('Address space of the virtual network; the subnets are carved from it (callers /24, shards /22, Container Apps /23).')
param addressPrefix string = '10.40.0.0/16'

// Subnet names, also the keys the apps' modules refer to.
var callersSubnetName = 'snet-callers'
var shardsSubnetName = 'snet-shards'
var containerAppsSubnetName = 'snet-container-apps'

// Elastic Premium VNet integration takes one address per instance (and more while scaling): the shards' subnet is
// shared by every shard plan (multi-plan subnet join), up to maximumElasticWorkerCount instances each.
var callersPrefix = cidrSubnet(addressPrefix, 24, 0)
var shardsPrefix = cidrSubnet(addressPrefix, 22, 1)
// A workload-profiles environment needs at least a /27 delegated to Microsoft.App/environments.
var containerAppsPrefix = cidrSubnet(addressPrefix, 23, 4)

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        // The router's plan (the publisher shares it). Its outbound traffic is all routed through here
        // (vnetRouteAllEnabled), and the Microsoft.Web service endpoint marks its calls to the shards' and the
        // GPU app's hosts as coming from this subnet, which is what their access restrictions admit.
        name: callersSubnetName
        properties: {
          addressPrefix: callersPrefix
          delegations: [
            {
              name: 'Microsoft.Web.serverFarms'
              properties: {
                serviceName: 'Microsoft.Web/serverFarms'
              }
            }
          ]
          serviceEndpoints: [
            { service: 'Microsoft.Web' }
            { service: 'Microsoft.Storage' }
          ]
          // Application Insights and Key Vault are reached over the internet: keep the default outbound access
          // (a NAT gateway is the production choice where fixed outbound addresses are wanted).
          defaultOutboundAccess: true
        }
      }
      {
        // Every shard plan (multi-plan subnet join).
        name: shardsSubnetName
        properties: {
          addressPrefix: shardsPrefix
          delegations: [
            {
              name: 'Microsoft.Web.serverFarms'
              properties: {
                serviceName: 'Microsoft.Web/serverFarms'
              }
            }
          ]
          serviceEndpoints: [
            { service: 'Microsoft.Storage' }
          ]
          defaultOutboundAccess: true
        }
      }
      {
        // The GPU app's Container Apps environment (and the gateway's, when it comes).
        name: containerAppsSubnetName
        properties: {
          addressPrefix: containerAppsPrefix
          delegations: [
            {
              name: 'Microsoft.App.environments'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          defaultOutboundAccess: true
        }
      }
    ]
  }
}

output id string = vnet.id
output name string = vnet.name
output callersSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, callersSubnetName)
output shardsSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, shardsSubnetName)
output containerAppsSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, containerAppsSubnetName)
