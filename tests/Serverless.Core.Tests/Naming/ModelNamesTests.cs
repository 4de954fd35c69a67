using Serverless.Core.Naming;

namespace Serverless.Core.Tests.Naming;

[TestClass]
public sealed class ModelNamesTests
{
    [TestMethod]
    [DataRow("demo")]
    [DataRow("a")]
    [DataRow("0")]
    [DataRow("9lives")]
    [DataRow("fraud-model_v2")]
    [DataRow("a-")]
    [DataRow("a_")]
    public void ValidNames_AreAccepted(string name)
    {
        Assert.IsTrue(ModelNames.IsValidName(name), name);
        Assert.IsNull(ModelNames.CheckTenant(name));
        Assert.IsNull(ModelNames.CheckModel(name));
    }

    [TestMethod]
    public void SixtyThreeCharacters_IsTheLongestValidName()
    {
        var name63 = "a" + new string('b', 62);
        var name64 = "a" + new string('b', 63);
        Assert.IsTrue(ModelNames.IsValidName(name63));
        Assert.IsFalse(ModelNames.IsValidName(name64));
        StringAssert.Contains(ModelNames.CheckModel(name64), name64);
    }

    [TestMethod]
    [DataRow("Demo")]
    [DataRow("DEMO")]
    [DataRow("de mo")]
    [DataRow(" demo")]
    [DataRow("demo ")]
    [DataRow("")]
    [DataRow("-demo")]
    [DataRow("_demo")]
    [DataRow("de/mo")]
    [DataRow("demo/")]
    [DataRow("de.mo")]
    [DataRow("de~mo")]
    [DataRow("démo")]
    public void InvalidNames_AreRejected_WithAMessageNamingTheValue(string name)
    {
        Assert.IsFalse(ModelNames.IsValidName(name), name);

        var tenantError = ModelNames.CheckTenant(name);
        Assert.IsNotNull(tenantError, name);
        StringAssert.Contains(tenantError, $"'{name}'");
        StringAssert.StartsWith(tenantError, "tenant name");

        var modelError = ModelNames.CheckModel(name);
        Assert.IsNotNull(modelError, name);
        StringAssert.Contains(modelError, $"'{name}'");
        StringAssert.StartsWith(modelError, "model name");
    }

    [TestMethod]
    public void TrailingNewline_IsRejected()
    {
        Assert.IsFalse(ModelNames.IsValidName("demo\n"));
        Assert.IsNotNull(ModelNames.CheckTenant("demo\n"));
        Assert.IsFalse(ModelNames.IsValidVersion("3\n"));
        Assert.IsFalse(ModelNames.IsValidVersion("1.2.0\n"));
    }

    [TestMethod]
    public void NullName_IsRejected()
    {
        Assert.IsFalse(ModelNames.IsValidName(null));
        Assert.IsNotNull(ModelNames.CheckTenant(null));
        Assert.IsNotNull(ModelNames.CheckModel(null));
        Assert.IsNotNull(ModelNames.CheckVersion(null));
    }

    [TestMethod]
    public void LongBadValues_AreTruncatedInTheMessage()
    {
        var huge = new string('X', 10_000);
        var error = ModelNames.CheckTenant(huge);
        Assert.IsNotNull(error);
        StringAssert.Contains(error, new string('X', 80));
        Assert.IsLessThan(400, error.Length, error);
    }

    [TestMethod]
    [DataRow("0")]
    [DataRow("3")]
    [DataRow("10")]
    [DataRow("123456789012345678")]
    [DataRow("1.2.0")]
    [DataRow("0.0.1")]
    [DataRow("10.20.30")]
    [DataRow("1.2.0-rc.1")]
    [DataRow("1.2.0-alpha")]
    [DataRow("1.2.0-alpha-2.b")]
    [DataRow("1.0.0-0A.is.legal")]
    public void ValidVersions_AreAccepted(string version)
    {
        Assert.IsTrue(ModelNames.IsValidVersion(version), version);
        Assert.IsNull(ModelNames.CheckVersion(version));
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("01")]
    [DataRow("00")]
    [DataRow("1.2")]
    [DataRow("1.2.3.4")]
    [DataRow("1.02.0")]
    [DataRow("1.2.03")]
    [DataRow("v1")]
    [DataRow("1.2.0-")]
    [DataRow("1.2.0-rc..1")]
    [DataRow("1.2.0-rc_1")]
    [DataRow("-1")]
    [DataRow("1 ")]
    [DataRow("latest")]
    [DataRow("1.2.0/evil")]
    [DataRow("1234567890123456789")]
    public void InvalidVersions_AreRejected_WithAMessageNamingTheValue(string version)
    {
        Assert.IsFalse(ModelNames.IsValidVersion(version), version);
        var error = ModelNames.CheckVersion(version);
        Assert.IsNotNull(error, version);
        StringAssert.Contains(error, $"version '{version}'");
    }

    [TestMethod]
    public void OverlongVersion_IsRejected()
    {
        var version = "1.0.0-" + new string('a', 58);
        Assert.AreEqual(64, version.Length);
        Assert.IsTrue(ModelNames.IsValidVersion(version));
        Assert.IsFalse(ModelNames.IsValidVersion(version + "a"));
    }

    [TestMethod]
    public void Validate_ThrowsForTheFirstBadPart()
    {
        ModelNames.Validate("demo", "linear");
        ModelNames.Validate("demo", "linear", "1.2.0");

        var tenant = Assert.ThrowsExactly<ArgumentException>(() => ModelNames.Validate("Demo", "linear", "1"));
        StringAssert.Contains(tenant.Message, "tenant name 'Demo'");

        var model = Assert.ThrowsExactly<ArgumentException>(() => ModelNames.Validate("demo", "a/b", "1"));
        StringAssert.Contains(model.Message, "model name 'a/b'");

        var version = Assert.ThrowsExactly<ArgumentException>(() => ModelNames.Validate("demo", "linear", "01"));
        StringAssert.Contains(version.Message, "version '01'");
    }

    [TestMethod]
    public void Keys_AndBlobNames_HaveTheDocumentedForm()
    {
        Assert.AreEqual("demo~linear", ModelNames.ModelKey("demo", "linear"));
        Assert.AreEqual("demo/linear/3/abc.onnx", ModelNames.ModelBlobName("demo", "linear", "3", "abc"));
        Assert.AreEqual("demo/linear/1.2.0/model.onnx", ModelNames.DropBlobName("demo", "linear", "1.2.0"));
    }

    [TestMethod]
    public void TryParseDropBlobName_SplitsAWellFormedName()
    {
        Assert.IsTrue(ModelNames.TryParseDropBlobName("demo/linear/1.2.0-rc.1/model.onnx", out var tenant, out var model, out var version));
        Assert.AreEqual("demo", tenant);
        Assert.AreEqual("linear", model);
        Assert.AreEqual("1.2.0-rc.1", version);
    }

    [TestMethod]
    public void TryParseDropBlobName_RoundTripsDropBlobName()
    {
        var name = ModelNames.DropBlobName("acme", "churn_v2", "7");
        Assert.IsTrue(ModelNames.TryParseDropBlobName(name, out var tenant, out var model, out var version));
        Assert.AreEqual(("acme", "churn_v2", "7"), (tenant, model, version));
    }

    [TestMethod]
    [DataRow("demo/linear/3/weights.onnx")]
    [DataRow("demo/linear/3/model.onnx.tmp")]
    [DataRow("demo/linear/model.onnx")]
    [DataRow("demo/linear/3/extra/model.onnx")]
    [DataRow("demo/linear/3/Model.onnx")]
    [DataRow("model.onnx")]
    [DataRow("")]
    public void TryParseDropBlobName_RejectsOtherNames(string blobName)
    {
        Assert.IsFalse(ModelNames.TryParseDropBlobName(blobName, out var tenant, out var model, out var version), blobName);
        Assert.IsNull(tenant);
        Assert.IsNull(model);
        Assert.IsNull(version);
    }
}
