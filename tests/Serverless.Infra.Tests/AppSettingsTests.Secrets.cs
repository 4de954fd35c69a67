using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Serverless.Infra.Tests;

/// <summary>
/// Secret settings come from Key Vault: in every function app that sets one it is a Key Vault reference
/// (<c>@Microsoft.KeyVault(SecretUri=…)</c>, no version) to the vault's secret, in the GPU container app a
/// Container Apps secret with <c>keyVaultUrl</c> and the app's identity, read by <c>secretRef</c>; each app's
/// identity gets Key Vault Secrets User on the secret before its settings; no secure parameter reaches a
/// setting or an output; and azd reads every secret back from the vault at each provision, so that a provision
/// never changes a key (in particular not in the middle of a rotation of the internal key).
/// </summary>
public sealed partial class AppSettingsTests
{
    /// <summary>Settings that carry secrets, and the Key Vault secret (core/keyvault.bicep) each comes from.</summary>
    private static readonly Dictionary<string, string> SecretSettings = new(StringComparer.Ordinal)
    {
        ["Internal__ShardKey"] = "internal-shard-key",
        ["Internal__PreviousShardKey"] = "internal-shard-key-previous",
        ["Router__AdminKey"] = "router-admin-key",
    };

    private const string KeyVaultModule = "keyvault";

    /// <summary>The secure parameters of main.bicep, and the Key Vault secret each one's value is stored in.</summary>
    private static readonly Dictionary<string, string> SecureMainParameters = new(StringComparer.Ordinal)
    {
        ["internalShardKey"] = "internal-shard-key",
        ["internalShardKeyPrevious"] = "internal-shard-key-previous",
        ["routerAdminKey"] = "router-admin-key",
    };

    /// <summary>Built-in role Key Vault Secrets User.</summary>
    private const string KeyVaultSecretsUserRoleId = "4633458b-17de-408a-b874-0445c86b69e6";

    /// <summary>The modules of main.bicep that run code (and so have settings).</summary>
    private static readonly string[] AppModules = ["router", "shards", "publisher", "gpu"];

    /// <summary>A Key Vault reference app setting: <c>[format('@Microsoft.KeyVault(SecretUri={0})', &lt;secret uri&gt;)]</c>.</summary>
    private static readonly Regex KeyVaultReferenceRegex = new(
        @"^\[format\('@Microsoft\.KeyVault\(SecretUri=\{0\}\)', (?<uri>.+)\)\]$", RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>
    /// The version-less URI of a secret named by two module parameters:
    /// <c>reference(resourceId('Microsoft.KeyVault/vaults/secrets', parameters('v'), parameters('s')), '…').secretUri</c>
    /// (<c>secretUriWithVersion</c> would pin a version, and a rotation would not reach the app).
    /// </summary>
    private static readonly Regex SecretUriRegex = new(
        @"^reference\(resourceId\('Microsoft\.KeyVault/vaults/secrets', parameters\('(?<vault>[^']+)'\), parameters\('(?<secret>[^']+)'\)\), '[^']+'\)\.secretUri$",
        RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>A module parameter passed from main.bicep as an output of the keyvault module.</summary>
    private static readonly Regex KeyVaultOutputRegex = new(
        @"'Microsoft\.Resources/deployments', 'keyvault'\), '[^']+'\)\.outputs\.(?<output>\w+)\.value\]$", RegexOptions.Compiled | RegexOptions.CultureInvariant);

    [TestMethod]
    public void TheSecretSettingsAreBoundByTheCode()
    {
        var everyBound = Enum.GetValues<AppRegistration>().SelectMany(BoundSettings).ToHashSet(StringComparer.Ordinal);
        var stale = SecretSettings.Keys.Where(name => !everyBound.Contains(name)).ToList();
        Assert.AreEqual(0, stale.Count, $"secret settings no code binds any more: {Join(stale)}");
    }

    [TestMethod]
    [DataRow("router", AppRegistration.Router, DisplayName = "router")]
    [DataRow("shards", AppRegistration.Shard, DisplayName = "shard (every shard-NN)")]
    [DataRow("publisher", AppRegistration.Publisher, DisplayName = "publisher")]
    public void FunctionAppSecretsAreKeyVaultReferences(string module, AppRegistration registration)
    {
        var (template, deployment) = ModuleOf(module);
        var settings = SettingsOfModule(module);
        var secrets = SecretSettings.Keys.Where(BoundSettings(registration).Contains).ToList();
        Assert.AreNotEqual(0, secrets.Count, $"{module}: binds no secret setting (expected at least Internal__ShardKey)");

        foreach (var setting in secrets)
        {
            Assert.IsTrue(settings.TryGetValue(setting, out var value), $"{module}: {setting} is not set");
            var text = AllText(value);
            var reference = KeyVaultReferenceRegex.Match(text);
            Assert.IsTrue(reference.Success, $"{module}: {setting} is not a Key Vault reference (@Microsoft.KeyVault(SecretUri=…)): {text}");
            var uri = SecretUriRegex.Match(reference.Groups["uri"].Value);
            Assert.IsTrue(uri.Success, $"{module}: {setting} does not refer to the version-less secretUri of a vault secret: {text}");
            AssertSecretFromKeyVault(module, setting, template, deployment, uri.Groups["vault"].Value, uri.Groups["secret"].Value);
            AssertSettingsWaitForSecretAccess(module, template, uri.Groups["vault"].Value, uri.Groups["secret"].Value, "Microsoft.Web/sites/config");
        }

        // A Key Vault reference resolves with the system-assigned identity unless keyVaultReferenceIdentity names another.
        foreach (var site in Resources(template).Where(r => Type(r) == "Microsoft.Web/sites"))
        {
            var identity = (string?)site?["identity"]?["type"] ?? "";
            if (identity.Contains("UserAssigned", StringComparison.Ordinal))
            {
                Assert.IsFalse(
                    string.IsNullOrEmpty((string?)site?["properties"]?["keyVaultReferenceIdentity"]),
                    $"{module}: a site with a user-assigned identity needs keyVaultReferenceIdentity for its Key Vault references");
            }
            else
            {
                Assert.AreEqual("SystemAssigned", identity, $"{module}: a site resolving Key Vault references needs a managed identity");
            }
        }
    }

    [TestMethod]
    public void TheGpuAppReadsItsSecretsFromKeyVault()
    {
        const string module = "gpu";
        var (template, deployment) = ModuleOf(module);
        var app = Resources(template).Single(r => Type(r) == "Microsoft.App/containerApps");
        var env = AsArray(app?["properties"]?["template"]?["containers"], module)
            .SelectMany(container => AsArray(container?["env"], module))
            .ToList();
        var secrets = AsArray(app?["properties"]?["configuration"]?["secrets"], module);
        var identities = (app?["identity"]?["userAssignedIdentities"] as JsonObject)?.Select(pair => pair.Key).ToList() ?? [];

        var bound = BoundSettings(AppRegistration.Shard);
        foreach (var setting in SecretSettings.Keys.Where(bound.Contains))
        {
            var item = env.SingleOrDefault(e => (string?)e?["name"] == setting);
            Assert.IsNotNull(item, $"{module}: {setting} is not set");
            Assert.IsNull(item["value"], $"{module}: {setting} has a value; it must be a secretRef");
            var secretRef = (string?)item["secretRef"];
            Assert.IsFalse(string.IsNullOrEmpty(secretRef), $"{module}: {setting} has no secretRef");

            var secret = secrets.SingleOrDefault(s => (string?)s?["name"] == secretRef);
            Assert.IsNotNull(secret, $"{module}: {setting} refers to secret '{secretRef}', which the app does not declare");
            Assert.IsNull(secret["value"], $"{module}: secret '{secretRef}' carries a value; it must come from Key Vault (keyVaultUrl)");
            var url = (string?)secret["keyVaultUrl"] ?? "";
            var uri = SecretUriRegex.Match(url.TrimStart('[').TrimEnd(']'));
            Assert.IsTrue(uri.Success, $"{module}: secret '{secretRef}' has no keyVaultUrl to the version-less secretUri of a vault secret: {url}");
            // The identity is the resource id expression; the app's identity map key is the same inside a format('{0}', …).
            var identity = (string?)secret["identity"] ?? "";
            var inner = identity.TrimStart('[').TrimEnd(']');
            Assert.IsTrue(
                identity == "system" || (inner.Length > 0 && identities.Any(key => key == identity || key.Contains(inner, StringComparison.Ordinal))),
                $"{module}: secret '{secretRef}' is read with identity '{identity}', which is not the app's ({Join(identities)})");

            AssertSecretFromKeyVault(module, setting, template, deployment, uri.Groups["vault"].Value, uri.Groups["secret"].Value);
            AssertSettingsWaitForSecretAccess(module, template, uri.Groups["vault"].Value, uri.Groups["secret"].Value, "Microsoft.App/containerApps");
        }
    }

    [TestMethod]
    public void NoSecureParameterReachesASettingOrAnOutput()
    {
        var main = BicepCli.BuildJson("main.bicep");
        var secure = SecureParameters(main);
        Assert.AreNotEqual(0, secure.Count, "main.bicep has no secure parameter (the internal key should be one)");

        foreach (var deployment in Resources(main).Where(r => Type(r) == "Microsoft.Resources/deployments"))
        {
            var name = (string?)deployment?["name"];
            var passed = (deployment?["properties"]?["parameters"] as JsonObject ?? []).Where(p => ReferencesAny(p.Value, secure)).Select(p => p.Key).ToList();
            Assert.IsTrue(
                passed.Count == 0 || name == KeyVaultModule,
                $"module '{name}' gets secure parameters of main.bicep ({Join(passed)}); only the keyvault module may, the apps get Key Vault references");

            var template = deployment?["properties"]?["template"]?.AsObject();
            if (template is null || !AppModules.Contains(name))
            {
                continue;
            }

            var moduleSecure = SecureParameters(template);
            Assert.AreEqual(0, moduleSecure.Count, $"module '{name}' takes secure parameters ({Join(moduleSecure)}); pass a Key Vault secret name instead");
            foreach (var (setting, value) in SettingsOfModule(name!))
            {
                var text = AllText(value);
                Assert.IsFalse(
                    text.Contains("listKeys(", StringComparison.Ordinal) || text.Contains("secretUriWithVersion", StringComparison.Ordinal),
                    $"{name}: setting {setting} carries a key or a pinned secret version: {text}");
            }

            foreach (var app in Resources(template).Where(r => Type(r) == "Microsoft.App/containerApps"))
            {
                foreach (var secret in app?["properties"]?["configuration"]?["secrets"] as JsonArray ?? [])
                {
                    Assert.IsNull(secret?["value"], $"{name}: container app secret '{(string?)secret?["name"]}' carries a value; use keyVaultUrl");
                }
            }
        }

        var leaking = (main["outputs"] as JsonObject ?? []).Where(o => ReferencesAny(o.Value, secure)).Select(o => o.Key).ToList();
        Assert.AreEqual(0, leaking.Count, $"main.bicep outputs built from secure parameters: {Join(leaking)}");
    }

    [TestMethod]
    public void AzdReadsEverySecretBackFromTheVault()
    {
        var main = BicepCli.BuildJson("main.bicep");
        var secure = SecureParameters(main);
        CollectionAssert.AreEquivalent(
            SecureMainParameters.Keys.ToList(),
            secure,
            $"main.bicep's secure parameters ({Join(secure)}) are not the ones this test knows; list each with the vault secret that stores it");

        var file = Path.Combine(BicepCli.InfraDirectory, "main.parameters.json");
        var parameters = JsonNode.Parse(File.ReadAllText(file))?["parameters"] as JsonObject
            ?? throw new AssertFailedException("infra/main.parameters.json has no parameters");
        var (vaultTemplate, vaultDeployment) = ModuleOf(KeyVaultModule);
        var stored = Resources(vaultTemplate).Where(r => Type(r) == "Microsoft.KeyVault/vaults/secrets").ToList();

        foreach (var (parameter, secretName) in SecureMainParameters)
        {
            // secretOrRandomPassword: the vault's current value, random only when the vault or the secret does not
            // exist yet (or is empty); the secret must be the parameter's own, or a provision would overwrite it.
            var expected = $"$(secretOrRandomPassword ${{AZURE_KEY_VAULT_NAME}} {secretName})";
            Assert.AreEqual(expected, (string?)parameters[parameter]?["value"], $"main.parameters.json: {parameter}");

            // main.bicep passes it to the keyvault module, which stores it in that secret.
            var passedAs = (vaultDeployment["properties"]?["parameters"] as JsonObject ?? [])
                .Where(p => (string?)p.Value?["value"] == $"[parameters('{parameter}')]")
                .Select(p => p.Key)
                .ToList();
            Assert.AreEqual(1, passedAs.Count, $"main.bicep does not pass {parameter} to the keyvault module (once)");
            var secret = stored.SingleOrDefault(r => ((string?)r?["name"] ?? "").EndsWith($"'{secretName}')]", StringComparison.Ordinal));
            Assert.IsNotNull(secret, $"the keyvault module stores no secret '{secretName}'");
            Assert.IsTrue(
                ReferencesAny(secret["properties"]?["value"], passedAs),
                $"secret '{secretName}' is not set from the keyvault module's parameter {passedAs[0]} (main.bicep's {parameter})");
        }
    }

    [TestMethod]
    public void MainOutputsTheKeyVault()
    {
        var outputs = BicepCli.BuildJson("main.bicep")["outputs"] as JsonObject ?? [];
        foreach (var output in new[] { "AZURE_KEY_VAULT_NAME", "AZURE_KEY_VAULT_ENDPOINT" })
        {
            var value = AllText(outputs[output]?["value"]);
            StringAssert.Contains(value, "'Microsoft.Resources/deployments', 'keyvault')", $"main.bicep output {output} (azd reads it back in main.parameters.json)");
        }
    }

    /// <summary>
    /// The module parameters naming the vault and the secret come from the keyvault module's outputs, and
    /// that module stores, under the expected name, a secret whose value is one of its secure parameters.
    /// </summary>
    private static void AssertSecretFromKeyVault(string module, string setting, JsonObject template, JsonObject deployment, string vaultParameter, string secretParameter)
    {
        foreach (var parameter in new[] { vaultParameter, secretParameter })
        {
            Assert.IsNotNull(template["parameters"]?[parameter], $"{module}: {setting} uses parameter '{parameter}', which the module does not declare");
        }

        var vaultOutput = KeyVaultOutputOf(module, deployment, vaultParameter);
        var secretOutput = KeyVaultOutputOf(module, deployment, secretParameter);

        var (vaultTemplate, _) = ModuleOf(KeyVaultModule);
        var outputs = vaultTemplate["outputs"] as JsonObject ?? [];
        var vaultName = (string?)outputs[vaultOutput]?["value"];
        var secretName = (string?)outputs[secretOutput]?["value"];
        Assert.AreEqual("[parameters('name')]", vaultName, $"{module}: parameter '{vaultParameter}' is not the keyvault module's vault name (output '{vaultOutput}')");
        Assert.AreEqual(SecretSettings[setting], secretName, $"{module}: {setting} refers to the wrong secret (keyvault output '{secretOutput}')");

        var vaultSecure = SecureParameters(vaultTemplate);
        var stored = Resources(vaultTemplate).SingleOrDefault(r =>
            Type(r) == "Microsoft.KeyVault/vaults/secrets" && ((string?)r?["name"] ?? "").EndsWith($"'{secretName}')]", StringComparison.Ordinal));
        Assert.IsNotNull(stored, $"the keyvault module stores no secret '{secretName}'");
        Assert.IsTrue(ReferencesAny(stored["properties"]?["value"], vaultSecure), $"secret '{secretName}' is not set from a secure parameter of the keyvault module");
    }

    /// <summary>
    /// The module grants Key Vault Secrets User on the secret (a nested core/keyvault-roles.bicep deployment),
    /// and the resource holding the setting depends on that grant, so the reference resolves at first start.
    /// </summary>
    private static void AssertSettingsWaitForSecretAccess(string module, JsonObject template, string vaultParameter, string secretParameter, string settingsType)
    {
        var secretName = $"[parameters('{secretParameter}')]";
        var grants = Resources(template).Where(r =>
            Type(r) == "Microsoft.Resources/deployments"
            && (r?["properties"]?["parameters"]?["secretNames"]?["value"] as JsonArray)?.Any(n => (string?)n == secretName) == true
            && (string?)r?["properties"]?["parameters"]?["keyVaultName"]?["value"] == $"[parameters('{vaultParameter}')]"
            && Resources(r?["properties"]?["template"]?.AsObject() ?? []).Any(a => Type(a) == "Microsoft.Authorization/roleAssignments")
            && AllText(r?["properties"]?["template"]).Contains(KeyVaultSecretsUserRoleId, StringComparison.Ordinal))
            .ToList();
        Assert.AreEqual(1, grants.Count, $"{module}: expected one Key Vault Secrets User grant (core/keyvault-roles.bicep) on secret {secretName}");

        var grant = grants[0]!;
        var principals = AllText(grant["properties"]?["parameters"]?["principalIds"]);
        StringAssert.Contains(principals, "principalId", $"{module}: the Key Vault grant is not for the app's managed identity");

        var grantName = ((string?)grant["name"] ?? "").TrimStart('[').TrimEnd(']');
        var holders = Resources(template).Where(r => Type(r) == settingsType).ToList();
        Assert.AreNotEqual(0, holders.Count, $"{module}: no {settingsType}");
        foreach (var holder in holders)
        {
            var dependsOn = AllText(holder?["dependsOn"]);
            StringAssert.Contains(dependsOn, grantName, $"{module}: {settingsType} does not wait for the Key Vault grant");
        }
    }

    private static string KeyVaultOutputOf(string module, JsonObject deployment, string parameter)
    {
        var passed = (string?)deployment["properties"]?["parameters"]?[parameter]?["value"] ?? "";
        var match = KeyVaultOutputRegex.Match(passed);
        Assert.IsTrue(match.Success, $"{module}: main.bicep does not pass parameter '{parameter}' from the keyvault module's outputs: {passed}");
        return match.Groups["output"].Value;
    }

    private static List<string> SecureParameters(JsonObject template) =>
        (template["parameters"] as JsonObject ?? [])
            .Where(p => ((string?)p.Value?["type"])?.StartsWith("secure", StringComparison.OrdinalIgnoreCase) == true)
            .Select(p => p.Key)
            .ToList();

    private static bool ReferencesAny(JsonNode? node, List<string> parameters)
    {
        var text = AllText(node);
        return parameters.Any(p => text.Contains($"parameters('{p}')", StringComparison.Ordinal));
    }

    /// <summary>Every string in a JSON node, joined by new lines (ToJsonString would escape the quotes of ARM expressions).</summary>
    private static string AllText(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonValue v => v.ToJsonString(),
        JsonArray a => string.Join('\n', a.Select(AllText)),
        JsonObject o => string.Join('\n', o.Select(pair => pair.Key + "\n" + AllText(pair.Value))),
        _ => "",
    };
}
