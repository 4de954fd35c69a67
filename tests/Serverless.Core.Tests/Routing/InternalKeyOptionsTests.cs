using System.ComponentModel.DataAnnotations;
using Serverless.Core.Routing;

namespace Serverless.Core.Tests.Routing;

[TestClass]
public sealed class InternalKeyOptionsTests
{
    [TestMethod]
    public void UnresolvedKeyVaultReference_FailsValidation_NamingTheSetting()
    {
        var options = new InternalKeyOptions { ShardKey = "@Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/internal-shard-key)" };
        var results = new List<ValidationResult>();

        var valid = Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);

        Assert.IsFalse(valid);
        Assert.AreEqual(1, results.Count);
        StringAssert.Contains(results[0].ErrorMessage, "Internal__ShardKey");
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("a-random-resolved-secret-value")]
    public void ResolvedOrAbsentKey_IsValid(string key)
    {
        var options = new InternalKeyOptions { ShardKey = key };
        Assert.IsTrue(Validator.TryValidateObject(options, new ValidationContext(options), new List<ValidationResult>(), validateAllProperties: true));
    }
}
