using System.ComponentModel.DataAnnotations;
using Serverless.Routing;

namespace Serverless.Routing.Tests;

[TestClass]
public sealed class InternalKeyOptionsTests
{
    private const string Current = "current-key-9f1c2e7a5b3d";
    private const string Previous = "previous-key-4a8b6c0d2e1f";
    private const string UnresolvedReference = "@Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/internal-shard-key)";

    [TestMethod]
    public void AKeyChangedAfterAMatch_IsTheKeyThatMatches()
    {
        // The configured keys' digests are remembered between checks: they must follow a change of the keys.
        var options = new InternalKeyOptions { ShardKey = "first-key-0123456789" };
        Assert.IsTrue(options.Matches("first-key-0123456789"));
        options.ShardKey = "second-key-0123456789";
        options.PreviousShardKey = "first-key-0123456789";
        Assert.IsTrue(options.Matches("second-key-0123456789"));
        Assert.IsTrue(options.Matches("first-key-0123456789"), "the previous key during a rotation");
        options.PreviousShardKey = "";
        Assert.IsFalse(options.Matches("first-key-0123456789"), "the previous key after the rotation");
        Assert.IsFalse(options.Matches(new string('x', 2000)), "a long key is hashed off the stack and does not match");
    }

    [TestMethod]
    public void UnresolvedKeyVaultReference_FailsValidation_NamingTheSetting()
    {
        var options = new InternalKeyOptions { ShardKey = UnresolvedReference };

        var results = Validate(options, out var valid);

        Assert.IsFalse(valid);
        Assert.AreEqual(1, results.Count);
        StringAssert.Contains(results[0].ErrorMessage, "Internal__ShardKey");
    }

    [TestMethod]
    public void UnresolvedKeyVaultReferenceInPreviousKey_FailsValidation_NamingTheSetting()
    {
        var options = new InternalKeyOptions
        {
            ShardKey = Current,
            PreviousShardKey = "@microsoft.keyvault(SecretUri=https://kv-x.vault.azure.net/secrets/internal-shard-key-previous)",
        };

        var results = Validate(options, out var valid);

        Assert.IsFalse(valid);
        Assert.AreEqual(1, results.Count, string.Join("; ", results.Select(r => r.ErrorMessage)));
        StringAssert.Contains(results[0].ErrorMessage, "Internal__PreviousShardKey");
        CollectionAssert.Contains(results[0].MemberNames.ToList(), nameof(InternalKeyOptions.PreviousShardKey));
    }

    [TestMethod]
    public void UnresolvedReferencesInBothKeys_FailValidation_NamingBothSettings()
    {
        var options = new InternalKeyOptions { ShardKey = UnresolvedReference, PreviousShardKey = UnresolvedReference + "-previous" };

        var results = Validate(options, out var valid);

        Assert.IsFalse(valid);
        Assert.AreEqual(2, results.Count);
        Assert.IsTrue(results.Any(r => r.ErrorMessage!.StartsWith("Internal__ShardKey ", StringComparison.Ordinal)));
        Assert.IsTrue(results.Any(r => r.ErrorMessage!.StartsWith("Internal__PreviousShardKey ", StringComparison.Ordinal)));
    }

    [TestMethod]
    public void NoKey_FailsClosed_NamingTheSetting_UnlessDevelopmentAllowsIt()
    {
        var results = Validate(new InternalKeyOptions(), out var valid);

        Assert.IsFalse(valid);
        Assert.AreEqual(1, results.Count);
        StringAssert.StartsWith(results[0].ErrorMessage, "Internal__ShardKey is not set");
        StringAssert.Contains(results[0].ErrorMessage, "Internal__AllowMissingKey");

        Validate(new InternalKeyOptions { AllowMissingKey = true }, out var allowed);
        Assert.IsTrue(allowed);
    }

    [TestMethod]
    public void PreviousKeyWithoutCurrentKey_FailsValidation()
    {
        // Allowed to start without a key (development), a previous key alone is still refused.
        var options = new InternalKeyOptions { PreviousShardKey = Previous, AllowMissingKey = true };

        var results = Validate(options, out var valid);

        Assert.IsFalse(valid);
        Assert.AreEqual(1, results.Count);
        StringAssert.Contains(results[0].ErrorMessage, "Internal__PreviousShardKey");
        Assert.IsFalse(options.Matches(Previous), "no current key: nothing matches, not even the previous key");
    }

    [TestMethod]
    [DataRow("a-random-resolved-secret-value", "")]
    [DataRow("a-random-resolved-secret-value", "the-one-before-it")]
    [DataRow("a-random-resolved-secret-value", "a-random-resolved-secret-value")]
    public void ResolvedKeys_AreValid(string key, string previous)
    {
        var options = new InternalKeyOptions { ShardKey = key, PreviousShardKey = previous };
        Validate(options, out var valid);
        Assert.IsTrue(valid);
    }

    [TestMethod]
    public void PreviousShardKey_IsEmptyByDefault()
    {
        Assert.AreEqual("", new InternalKeyOptions().PreviousShardKey);
    }

    [TestMethod]
    public void CurrentKeyMatches_WithOrWithoutAPreviousKey()
    {
        Assert.IsTrue(new InternalKeyOptions { ShardKey = Current }.Matches(Current));
        Assert.IsTrue(new InternalKeyOptions { ShardKey = Current, PreviousShardKey = Previous }.Matches(Current));
        Assert.IsTrue(new InternalKeyOptions { ShardKey = Current, PreviousShardKey = Current }.Matches(Current), "previous equal to current (no rotation under way)");
    }

    [TestMethod]
    public void PreviousKey_MatchesOnlyWhenConfigured()
    {
        Assert.IsFalse(new InternalKeyOptions { ShardKey = Current }.Matches(Previous), "no previous key configured");
        Assert.IsTrue(new InternalKeyOptions { ShardKey = Current, PreviousShardKey = Previous }.Matches(Previous));
    }

    [TestMethod]
    public void PreviousKey_IsExact()
    {
        var options = new InternalKeyOptions { ShardKey = Current, PreviousShardKey = Previous };
        Assert.IsFalse(options.Matches(Previous.ToUpperInvariant()));
        Assert.IsFalse(options.Matches(Previous[..^1]));
        Assert.IsFalse(options.Matches(Previous + "x"));
        Assert.IsFalse(options.Matches(Current + Previous));
        Assert.IsFalse(options.Matches("some-other-key"));
    }

    [TestMethod]
    public void EmptyPresentedKey_NeverMatches()
    {
        var cases = new[]
        {
            new InternalKeyOptions(),
            new InternalKeyOptions { ShardKey = Current },
            new InternalKeyOptions { ShardKey = Current, PreviousShardKey = Previous },
            new InternalKeyOptions { PreviousShardKey = Previous },
        };

        foreach (var options in cases)
        {
            Assert.IsFalse(options.Matches(""), $"'' with ShardKey '{options.ShardKey}', PreviousShardKey '{options.PreviousShardKey}'");
            Assert.IsFalse(options.Matches(null), $"null with ShardKey '{options.ShardKey}', PreviousShardKey '{options.PreviousShardKey}'");
        }
    }

    private static List<ValidationResult> Validate(InternalKeyOptions options, out bool valid)
    {
        var results = new List<ValidationResult>();
        valid = Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return results;
    }
}
