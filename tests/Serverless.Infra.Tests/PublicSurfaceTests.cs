using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Serverless.Infra.Tests;

/// <summary>
/// Issue 15, the public surface in Azure, read from the ARM JSON of <c>bicep build main.bicep</c> (nothing can be
/// deployed here): a VNet whose subnets the apps integrate with; shard apps that admit only the callers' subnet
/// (router, publisher) with default action Deny while <c>shardsPublicAccess</c> is off, its default; a GPU app
/// whose Container Apps environment is then internal, with a private DNS zone for its names.
/// </summary>
[TestClass]
public sealed partial class PublicSurfaceTests
{
    [TestMethod]
    public void PublicAccessIsAParameterOffByDefault()
    {
        var main = BicepCli.BuildJson("main.bicep");
        var parameter = main["parameters"]?["shardsPublicAccess"];
        Assert.AreEqual("bool", (string?)parameter?["type"], "main.bicep has a bool parameter shardsPublicAccess");
        Assert.IsFalse(parameter!["defaultValue"]!.GetValue<bool>(), "shardsPublicAccess defaults to false");

        var azd = JsonNode.Parse(File.ReadAllText(Path.Combine(BicepCli.InfraDirectory, "main.parameters.json")))!;
        Assert.AreEqual("${SHARDS_PUBLIC_ACCESS=false}", (string?)azd["parameters"]?["shardsPublicAccess"]?["value"], "azd maps it from SHARDS_PUBLIC_ACCESS, off by default");
        Assert.IsNotNull(azd["parameters"]?["vnetAddressPrefix"], "azd passes vnetAddressPrefix");
    }

    [TestMethod]
    public void TheVnetHasTheIntegrationAndContainerAppsSubnets()
    {
        var (template, _) = Module("network");
        var vnet = Single(template, "Microsoft.Network/virtualNetworks");
        var subnets = vnet["properties"]!["subnets"]!.AsArray().ToDictionary(s => Variable(template, (string)s!["name"]!), s => s!["properties"]!, StringComparer.Ordinal);

        Assert.AreEqual("Microsoft.Web/serverFarms", Delegation(subnets["snet-callers"]), "the callers' subnet is delegated to App Service plans");
        Assert.AreEqual("Microsoft.Web/serverFarms", Delegation(subnets["snet-shards"]), "the shards' subnet is delegated to App Service plans");
        Assert.AreEqual("Microsoft.App/environments", Delegation(subnets["snet-container-apps"]), "the Container Apps subnet is delegated to environments");
        // The shards' access restrictions name the callers' subnet: that needs its Microsoft.Web service endpoint.
        CollectionAssert.Contains(ServiceEndpoints(subnets["snet-callers"]), "Microsoft.Web");
    }

    [TestMethod]
    public void ShardsAdmitOnlyTheCallersSubnetWhenPublicAccessIsOff()
    {
        var (template, deployment) = Module("shards");
        var site = Single(template, "Microsoft.Web/sites");
        var siteConfig = site["properties"]!["siteConfig"]!;
        Assert.AreEqual("Deny", Evaluate(siteConfig["ipSecurityRestrictionsDefaultAction"], template, deployment, publicAccess: false), "default action with shardsPublicAccess off");
        Assert.AreEqual("Allow", Evaluate(siteConfig["ipSecurityRestrictionsDefaultAction"], template, deployment, publicAccess: true), "default action with shardsPublicAccess on");

        var rules = siteConfig["ipSecurityRestrictions"]!.AsArray();
        Assert.AreEqual(1, rules.Count, rules.ToJsonString());
        Assert.AreEqual("Allow", (string?)rules[0]!["action"]);
        Assert.AreEqual("[parameters('callersSubnetId')]", (string?)rules[0]!["vnetSubnetResourceId"]);
        StringAssert.EndsWith(Passed(deployment, "callersSubnetId"), ".outputs.callersSubnetId.value]", "the rule admits the network module's callers subnet");
        Assert.AreEqual(false, siteConfig["scmIpSecurityRestrictionsUseMain"]?.GetValue<bool>(), "the deployment endpoint keeps its own rules (azd deploy)");

        Assert.AreEqual("[parameters('subnetId')]", (string?)site["properties"]!["virtualNetworkSubnetId"], "the shards are VNet-integrated");
        StringAssert.EndsWith(Passed(deployment, "subnetId"), ".outputs.shardsSubnetId.value]");
    }

    [TestMethod]
    [DataRow("router")]
    [DataRow("publisher")]
    public void CallersRouteEverythingThroughTheCallersSubnet(string module)
    {
        var (template, deployment) = Module(module);
        var site = Single(template, "Microsoft.Web/sites");
        Assert.AreEqual("[parameters('subnetId')]", (string?)site["properties"]!["virtualNetworkSubnetId"], $"{module} is VNet-integrated");
        Assert.IsTrue(site["properties"]!["vnetRouteAllEnabled"]!.GetValue<bool>(), $"{module} routes all outbound traffic through the VNet (so its calls come from the admitted subnet)");
        StringAssert.EndsWith(Passed(deployment, "subnetId"), ".outputs.callersSubnetId.value]");
    }

    [TestMethod]
    public void TheGpuEnvironmentIsInternalWhenPublicAccessIsOff()
    {
        var (template, deployment) = Module("gpu");
        var environment = Single(template, "Microsoft.App/managedEnvironments");
        var vnet = environment["properties"]!["vnetConfiguration"]!;
        Assert.AreEqual("[parameters('infrastructureSubnetId')]", (string?)vnet["infrastructureSubnetId"]);
        StringAssert.EndsWith(Passed(deployment, "infrastructureSubnetId"), ".outputs.containerAppsSubnetId.value]");
        Assert.AreEqual("true", Evaluate(vnet["internal"], template, deployment, publicAccess: false), "internal with shardsPublicAccess off");
        Assert.AreEqual("false", Evaluate(vnet["internal"], template, deployment, publicAccess: true), "external with shardsPublicAccess on");

        // An internal environment's names resolve through a private DNS zone linked to the VNet (only then).
        var dns = Resources(template).Single(r => (string?)r?["type"] == "Microsoft.Resources/deployments" && ((string?)r?["name"])!.Contains("-dns", StringComparison.Ordinal))!;
        Assert.AreEqual("true", Evaluate(dns["condition"], template, deployment, publicAccess: false), "the DNS zone with public access off");
        Assert.AreEqual("false", Evaluate(dns["condition"], template, deployment, publicAccess: true), "no DNS zone with public access on");
        var zone = dns["properties"]!["template"]!.AsObject();
        var types = Resources(zone).Select(r => (string?)r?["type"]).ToList();
        CollectionAssert.Contains(types, "Microsoft.Network/privateDnsZones");
        CollectionAssert.Contains(types, "Microsoft.Network/privateDnsZones/A");
        CollectionAssert.Contains(types, "Microsoft.Network/privateDnsZones/virtualNetworkLinks");
    }

    /// <summary>A literal, or the value of <c>[variables('x')]</c>.</summary>
    private static string Variable(JsonObject template, string text)
    {
        var match = VariableRegex().Match(text);
        return match.Success ? (string?)template["variables"]?[match.Groups[1].Value] ?? text : text;
    }

    [GeneratedRegex(@"^\[variables\('([^']+)'\)\]$", RegexOptions.CultureInvariant)]
    private static partial Regex VariableRegex();

    private static string? Delegation(JsonNode subnet) => (string?)subnet["delegations"]?[0]?["properties"]?["serviceName"];

    private static List<string> ServiceEndpoints(JsonNode subnet) =>
        subnet["serviceEndpoints"]?.AsArray().Select(e => (string)e!["service"]!).ToList() ?? [];

    private static string Passed(JsonObject deployment, string parameter) =>
        (string?)deployment["properties"]?["parameters"]?[parameter]?["value"] ?? throw new AssertFailedException($"the module is given no {parameter}");

    /// <summary>
    /// The value of a literal, <c>[parameters('p')]</c>, <c>[not(parameters('p'))]</c> or <c>[if(parameters('p'), 'a', 'b')]</c>,
    /// where the module's <c>publicAccess</c> is main.bicep's <c>shardsPublicAccess</c> (checked) set to <paramref name="publicAccess"/>.
    /// </summary>
    private static string Evaluate(JsonNode? value, JsonObject template, JsonObject deployment, bool publicAccess)
    {
        Assert.AreEqual("[parameters('shardsPublicAccess')]", Passed(deployment, "publicAccess"), "the module's publicAccess is main.bicep's shardsPublicAccess");
        Assert.AreEqual("bool", (string?)template["parameters"]?["publicAccess"]?["type"]);
        var text = value is JsonValue v && v.TryGetValue(out string? s) ? s : value?.ToJsonString() ?? "";
        var flag = publicAccess ? "true" : "false";
        var negated = publicAccess ? "false" : "true";
        return text switch
        {
            "[parameters('publicAccess')]" => flag,
            "[not(parameters('publicAccess'))]" => negated,
            _ when IfRegex().Match(text) is { Success: true } m => publicAccess ? m.Groups["then"].Value : m.Groups["else"].Value,
            _ when !text.StartsWith('[') => text,
            _ => throw new AssertFailedException($"not an expression of publicAccess this test reads: {text}"),
        };
    }

    [GeneratedRegex(@"^\[if\(parameters\('publicAccess'\), '(?<then>[^']*)', '(?<else>[^']*)'\)\]$", RegexOptions.CultureInvariant)]
    private static partial Regex IfRegex();

    private static (JsonObject Template, JsonObject Deployment) Module(string name)
    {
        var main = BicepCli.BuildJson("main.bicep");
        var deployment = Resources(main).SingleOrDefault(r => (string?)r?["type"] == "Microsoft.Resources/deployments" && (string?)r?["name"] == name)?.AsObject()
            ?? throw new AssertFailedException($"main.bicep has no module '{name}'");
        return (deployment["properties"]!["template"]!.AsObject(), deployment);
    }

    private static JsonNode Single(JsonObject template, string type)
    {
        var matches = Resources(template).Where(r => (string?)r?["type"] == type).ToList();
        Assert.AreEqual(1, matches.Count, $"resources of type {type}");
        return matches[0]!;
    }

    private static IEnumerable<JsonNode?> Resources(JsonObject template) => template["resources"] switch
    {
        JsonArray array => array,
        JsonObject map => map.Select(pair => pair.Value),
        _ => [],
    };
}
