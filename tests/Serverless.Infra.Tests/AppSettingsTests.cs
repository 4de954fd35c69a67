using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Serverless.Http.Hosting;

namespace Serverless.Infra.Tests;

/// <summary>Which registration method of <see cref="ServerlessServiceCollectionExtensions"/> an app's Program.cs calls.</summary>
public enum AppRegistration
{
    Router,
    Shard,
    Publisher,

    /// <summary>The GPU app: a shard of pool gpu that is its own Kestrel host (section HttpLimits too).</summary>
    Gpu,
}

/// <summary>
/// The app settings each app's code binds (its options classes, by reflection, as <c>Section__Property</c>)
/// are exactly the ones infra/main.bicep sets for that app, apart from the exemptions listed here.
/// </summary>
[TestClass]
public sealed partial class AppSettingsTests
{
    /// <summary>Settings the platform (Functions host, App Service, Application Insights, ASP.NET Core, the .NET runtime, Azure.Identity) reads, not our code.</summary>
    private static readonly string[] PlatformPrefixes = ["FUNCTIONS_", "WEBSITE_", "APPLICATIONINSIGHTS_", "AzureWebJobsStorage__", "ASPNETCORE_", "DOTNET_"];

    private static readonly HashSet<string> PlatformNames = new(StringComparer.Ordinal) { "AZURE_CLIENT_ID" };

    /// <summary>
    /// Bound by the code but for local runs only: Azure uses Storage__BlobServiceUri / Storage__TableServiceUri
    /// with a managed identity, and no storage key may be in any app setting, so Bicep must NOT set these.
    /// </summary>
    private static readonly HashSet<string> LocalOnly = new(StringComparer.Ordinal) { "Storage__ConnectionString" };

    /// <summary>
    /// Bound settings whose code default is fine in Azure, so Bicep may leave them out. Empty on purpose:
    /// Bicep sets every setting, so the deployed values are visible in one place.
    /// </summary>
    private static readonly HashSet<string> DefaultsAreFine = new(StringComparer.Ordinal);

    /// <summary>Identity-based connection settings a blob trigger's <c>Connection = "X"</c> needs.</summary>
    private static readonly string[] BlobTriggerConnectionSettings = ["blobServiceUri", "queueServiceUri"];

    [TestMethod]
    [DataRow("router", "router", AppRegistration.Router, null, DisplayName = "router")]
    [DataRow("shard", "shards", AppRegistration.Shard, "cpu", DisplayName = "shard (every shard-NN)")]
    [DataRow("publisher", "publisher", AppRegistration.Publisher, null, DisplayName = "publisher")]
    [DataRow("gpu", "gpu", AppRegistration.Gpu, "gpu", DisplayName = "gpu container app (a shard of pool gpu)")]
    public void BicepSetsExactlyTheSettingsTheCodeBinds(string app, string module, AppRegistration registration, string? pool)
    {
        var bound = BoundSettings(registration);
        var set = SettingsOfModule(module);

        var missing = bound.Except(set.Keys).Except(LocalOnly).Except(DefaultsAreFine).Order(StringComparer.Ordinal).ToList();
        var unbound = set.Keys.Where(name => !bound.Contains(name) && !IsPlatform(name)).Order(StringComparer.Ordinal).ToList();
        var localOnly = set.Keys.Where(LocalOnly.Contains).ToList();

        Assert.AreEqual(
            0,
            missing.Count + unbound.Count + localOnly.Count,
            $"{app} (module '{module}' in main.bicep):\n" +
            $"  bound by the code, not set by Bicep: {Join(missing)}\n" +
            $"  set by Bicep, bound by no code: {Join(unbound)}\n" +
            $"  local-only, must not be set in Azure: {Join(localOnly)}\n" +
            $"  code binds: {Join(bound.Order(StringComparer.Ordinal))}\n" +
            $"  Bicep sets: {Join(set.Keys.Order(StringComparer.Ordinal))}");

        if (pool is not null)
        {
            Assert.AreEqual(pool, set["Shard__Pool"]?.GetValue<string>(), $"{app}: Shard__Pool");
        }
    }

    [TestMethod]
    [DataRow("router", "router", AppRegistration.Router, DisplayName = "router")]
    [DataRow("shard", "shards", AppRegistration.Shard, DisplayName = "shard (every shard-NN)")]
    [DataRow("publisher", "publisher", AppRegistration.Publisher, DisplayName = "publisher")]
    [DataRow("gpu", "gpu", AppRegistration.Gpu, DisplayName = "gpu container app (a shard of pool gpu)")]
    public void BicepDefaultValuesBindAndValidate(string app, string module, AppRegistration registration)
    {
        // Values that are literals or (string(...) of) parameters with defaults are checked as the code would
        // bind them; the rest (URIs and ids computed from other resources) get a placeholder of the property's type.
        var (template, deployment) = ModuleOf(module);
        var types = BoundOptionsTypes(registration);
        var values = SettingsOfModule(module).ToDictionary<KeyValuePair<string, JsonNode?>, string, string?>(
            pair => pair.Key.Replace("__", ":", StringComparison.Ordinal),
            pair => Resolve(pair.Value, template, deployment) ?? Placeholder(types, pair.Key),
            StringComparer.OrdinalIgnoreCase);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();

        foreach (var type in types)
        {
            var section = SectionName(type);
            var instance = Activator.CreateInstance(type)!;
            try
            {
                configuration.GetSection(section).Bind(instance, options => options.ErrorOnUnknownConfiguration = true);
            }
            catch (InvalidOperationException e)
            {
                throw new AssertFailedException($"{app}: the Bicep values of section {section} do not bind: {e.Message}", e);
            }

            var results = new List<ValidationResult>();
            Assert.IsTrue(
                Validator.TryValidateObject(instance, new ValidationContext(instance), results, validateAllProperties: true),
                $"{app}: the Bicep values of section {section} fail validation: {string.Join("; ", results.Select(r => r.ErrorMessage))}");
        }
    }

    private static string Placeholder(List<Type> types, string setting)
    {
        var parts = setting.Split("__");
        var property = types.FirstOrDefault(t => parts.Length == 2 && SectionName(t) == parts[0])?.GetProperty(parts[1]);
        return property?.PropertyType == typeof(string) ? "unresolved-0" : "https://unresolved.invalid/";
    }

    /// <summary>
    /// A setting's value when it is a literal, <c>[parameters('x')]</c> or <c>[string(parameters('x'))]</c>
    /// with x's default (in the module, or the main.bicep parameter the module gets it from); else null.
    /// </summary>
    private static string? Resolve(JsonNode? value, JsonObject template, JsonObject deployment)
    {
        if (value is not JsonValue literal || !literal.TryGetValue(out string? text))
        {
            return value is JsonValue number ? number.ToJsonString() : null;
        }

        var match = ParameterRegex.Match(text);
        if (!text.StartsWith('['))
        {
            return text;
        }

        if (!match.Success)
        {
            return null;
        }

        var name = match.Groups[1].Value;
        if (deployment["properties"]?["parameters"]?[name]?["value"] is JsonValue passed && passed.TryGetValue(out string? outer))
        {
            var outerMatch = ParameterRegex.Match(outer);
            var main = BicepCli.BuildJson("main.bicep");
            return outerMatch.Success ? Scalar(main["parameters"]?[outerMatch.Groups[1].Value]?["defaultValue"]) : null;
        }

        return Scalar(template["parameters"]?[name]?["defaultValue"]);
    }

    private static string? Scalar(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonValue v when v.TryGetValue(out long l) => l.ToString(CultureInfo.InvariantCulture),
        JsonValue v when v.TryGetValue(out bool b) => b ? "true" : "false",
        _ => null,
    };

    private static readonly Regex ParameterRegex = new(
        @"^\[(?:string\()?parameters\('([^']+)'\)\)?\]$", RegexOptions.Compiled | RegexOptions.CultureInvariant);

    [TestMethod]
    public void NoAppGetsAStorageConnectionString()
    {
        foreach (var module in new[] { "router", "shards", "publisher", "gpu" })
        {
            foreach (var (name, value) in SettingsOfModule(module))
            {
                Assert.AreNotEqual("AzureWebJobsStorage", name, $"{module}: use AzureWebJobsStorage__accountName (identity), not a connection string");
                var text = value is JsonValue v && v.TryGetValue(out string? s) ? s : value?.ToJsonString() ?? "";
                Assert.IsFalse(
                    text.Contains("AccountKey", StringComparison.OrdinalIgnoreCase) || text.Contains("listKeys(", StringComparison.Ordinal),
                    $"{module}: setting {name} carries a storage key: {text}");
            }
        }
    }

    [TestMethod]
    public void TheExemptionListsDoNotOverlapTheCode()
    {
        var everyBound = Enum.GetValues<AppRegistration>().SelectMany(BoundSettings).ToHashSet(StringComparer.Ordinal);
        Assert.IsFalse(everyBound.Any(IsPlatform), $"a bound setting looks like a platform one: {Join(everyBound.Where(IsPlatform))}");
        Assert.IsTrue(LocalOnly.IsSubsetOf(everyBound), $"local-only settings no code binds any more: {Join(LocalOnly.Except(everyBound))}");
        Assert.IsTrue(DefaultsAreFine.IsSubsetOf(everyBound), $"'defaults are fine' settings no code binds any more: {Join(DefaultsAreFine.Except(everyBound))}");
    }

    private static string Join(IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Count == 0 ? "(none)" : string.Join(", ", list);
    }

    private static bool IsPlatform(string name) =>
        PlatformNames.Contains(name) || PlatformPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>
    /// The settings an app's code binds: every options type its registration method binds (found from the
    /// registrations themselves), each public settable property as <c>Section__Property</c>; for the
    /// publisher also the identity settings of its blob trigger's connection.
    /// </summary>
    private static HashSet<string> BoundSettings(AppRegistration registration)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in BoundOptionsTypes(registration))
        {
            var section = SectionName(type);
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }))
            {
                names.Add($"{section}__{property.Name}");
            }
        }

        if (registration == AppRegistration.Publisher)
        {
            var connections = BlobTriggerConnections("functions/Serverless.Publisher");
            Assert.AreNotEqual(0, connections.Count, "the publisher's blob trigger names no Connection");
            foreach (var connection in connections)
            {
                foreach (var setting in BlobTriggerConnectionSettings)
                {
                    names.Add($"{connection}__{setting}");
                }
            }
        }

        return names;
    }

    /// <summary>The options types an app's registration binds to configuration (found from the registrations).</summary>
    private static List<Type> BoundOptionsTypes(AppRegistration registration)
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder().Build();
        _ = registration switch
        {
            AppRegistration.Router => services.AddServerlessRouter(configuration),
            AppRegistration.Shard => services.AddServerlessShard(configuration),
            AppRegistration.Publisher => services.AddServerlessPublisher(configuration),
            AppRegistration.Gpu => services.AddServerlessGpu(configuration),
            _ => throw new ArgumentOutOfRangeException(nameof(registration)),
        };

        // OptionsBuilder<T>.Bind registers IOptionsChangeTokenSource<T> for the bound section.
        var optionsTypes = services
            .Select(d => d.ServiceType)
            .Where(t => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IOptionsChangeTokenSource<>))
            .Select(t => t.GetGenericArguments()[0])
            .Where(t => t.Namespace?.StartsWith("Serverless.", StringComparison.Ordinal) == true)
            .Distinct()
            .ToList();
        Assert.AreNotEqual(0, optionsTypes.Count, $"{registration}: no bound options found");
        return optionsTypes;
    }

    private static string SectionName(Type options) =>
        options.GetField("SectionName", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() as string
        ?? throw new AssertFailedException($"{options.Name} has no const SectionName");

    /// <summary>The <c>Connection = "X"</c> names of the [BlobTrigger]s in a functions project's sources.</summary>
    private static List<string> BlobTriggerConnections(string project) =>
        Directory.EnumerateFiles(Path.Combine(BicepCli.RepositoryRoot, project), "*.cs", SearchOption.AllDirectories)
            .SelectMany(file => ConnectionRegex.Matches(File.ReadAllText(file)))
            .Select(match => match.Groups[1].Value)
            .Distinct(StringComparer.Ordinal)
            .ToList();

    private static readonly Regex ConnectionRegex = new(
        @"\[BlobTrigger\([^\]]*?\bConnection\s*=\s*""([^""]+)""", RegexOptions.Compiled | RegexOptions.CultureInvariant | RegexOptions.Singleline);

    /// <summary>
    /// The app settings a module of main.bicep sets, from the ARM JSON of <c>bicep build main.bicep</c>:
    /// <c>siteConfig.appSettings</c> of Microsoft.Web/sites, the properties of Microsoft.Web/sites/config
    /// 'appsettings', and the <c>env</c> of Microsoft.App/containerApps containers.
    /// </summary>
    private static Dictionary<string, JsonNode?> SettingsOfModule(string module)
    {
        var (template, _) = ModuleOf(module);

        var settings = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        var sources = 0;
        foreach (var resource in Resources(template))
        {
            switch (Type(resource))
            {
                case "Microsoft.Web/sites" when SiteAppSettings(resource) is { } appSettings:
                    sources++;
                    foreach (var item in AsArray(appSettings, module))
                    {
                        Add(settings, module, item?["name"], item?["value"]);
                    }

                    break;
                case "Microsoft.Web/sites/config" when IsAppSettingsConfig(resource):
                    sources++;
                    var properties = resource?["properties"] as JsonObject
                        ?? throw new AssertFailedException($"{module}: appsettings properties are an expression, not literal names");
                    foreach (var (name, value) in properties)
                    {
                        Add(settings, module, JsonValue.Create(name), value);
                    }

                    break;
                case "Microsoft.App/containerApps":
                    foreach (var container in AsArray(resource?["properties"]?["template"]?["containers"], module))
                    {
                        sources++;
                        foreach (var item in AsArray(container?["env"], module))
                        {
                            Add(settings, module, item?["name"], item?["value"] ?? item?["secretRef"]);
                        }
                    }

                    break;
            }
        }

        Assert.AreNotEqual(0, sources, $"module '{module}' sets no app settings (no sites appSettings, sites/config appsettings or container env)");
        return settings;
    }

    /// <summary>A module deployment of main.bicep by name: its inline template and the deployment resource.</summary>
    private static (JsonObject Template, JsonObject Deployment) ModuleOf(string module)
    {
        var main = BicepCli.BuildJson("main.bicep");
        var deployment = Resources(main)
            .SingleOrDefault(r => Type(r) == "Microsoft.Resources/deployments" && (string?)r?["name"] == module)?.AsObject()
            ?? throw new AssertFailedException($"main.bicep has no module deployment named '{module}'");
        var template = deployment["properties"]?["template"]?.AsObject()
            ?? throw new AssertFailedException($"module '{module}' has no inline template");
        return (template, deployment);
    }

    private static JsonNode? SiteAppSettings(JsonNode? resource) => resource?["properties"]?["siteConfig"]?["appSettings"];

    /// <summary>A sites/config resource named <c>…/appsettings</c> (literal or <c>[format('{0}/{1}', …, 'appsettings')]</c>).</summary>
    private static bool IsAppSettingsConfig(JsonNode? resource)
    {
        var name = (string?)resource?["name"] ?? "";
        return name.TrimEnd(']', ')', '\'').EndsWith("appsettings", StringComparison.Ordinal);
    }

    private static void Add(Dictionary<string, JsonNode?> settings, string module, JsonNode? nameNode, JsonNode? value)
    {
        var name = nameNode is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        if (name is null || name.StartsWith('['))
        {
            throw new AssertFailedException($"{module}: an app setting name is not a literal: {nameNode?.ToJsonString()}");
        }

        Assert.IsTrue(settings.TryAdd(name, value?.DeepClone()), $"{module}: app setting {name} is set twice");
    }

    private static JsonArray AsArray(JsonNode? node, string module) =>
        node as JsonArray ?? throw new AssertFailedException($"{module}: expected a literal array, got {node?.ToJsonString() ?? "nothing"}");

    private static string? Type(JsonNode? resource) => (string?)resource?["type"];

    /// <summary>A template's resources: an array, or (language version 2.0) an object keyed by symbolic name.</summary>
    private static IEnumerable<JsonNode?> Resources(JsonObject template) => template["resources"] switch
    {
        JsonArray array => array,
        JsonObject map => map.Select(pair => pair.Value),
        _ => [],
    };
}
