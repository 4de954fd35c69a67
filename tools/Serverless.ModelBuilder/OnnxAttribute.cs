namespace Serverless.ModelBuilder;

/// <summary>A node attribute (<c>AttributeProto</c>) of one of the simple kinds.</summary>
public sealed class OnnxAttribute
{
    // AttributeProto.AttributeType values and the AttributeProto fields that carry each kind.
    private const int TypeFloat = 1;
    private const int TypeInt = 2;
    private const int TypeString = 3;
    private const int TypeFloats = 6;
    private const int TypeInts = 7;
    private const int TypeStrings = 8;

    private const int FieldName = 1;
    private const int FieldF = 2;
    private const int FieldI = 3;
    private const int FieldS = 4;
    private const int FieldFloats = 7;
    private const int FieldInts = 8;
    private const int FieldStrings = 9;
    private const int FieldType = 20;

    private readonly int _type;
    private readonly long _int;
    private readonly float _float;
    private readonly string? _string;
    private readonly long[]? _ints;
    private readonly float[]? _floats;
    private readonly string[]? _strings;

    private OnnxAttribute(string name, int type, long i = 0, float f = 0, string? s = null, long[]? ints = null, float[]? floats = null, string[]? strings = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        _type = type;
        _int = i;
        _float = f;
        _string = s;
        _ints = ints;
        _floats = floats;
        _strings = strings;
    }

    /// <summary>The attribute name, e.g. <c>axis</c>.</summary>
    public string Name { get; }

    /// <summary>An integer attribute.</summary>
    public static OnnxAttribute Int(string name, long value) => new(name, TypeInt, i: value);

    /// <summary>A float attribute.</summary>
    public static OnnxAttribute Float(string name, float value) => new(name, TypeFloat, f: value);

    /// <summary>A string attribute (stored as UTF-8).</summary>
    public static OnnxAttribute String(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(name, TypeString, s: value);
    }

    /// <summary>A list-of-integers attribute.</summary>
    public static OnnxAttribute Ints(string name, params long[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new(name, TypeInts, ints: (long[])values.Clone());
    }

    /// <summary>A list-of-floats attribute.</summary>
    public static OnnxAttribute Floats(string name, params float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new(name, TypeFloats, floats: (float[])values.Clone());
    }

    /// <summary>A list-of-strings attribute (e.g. ZipMap's <c>classlabels_strings</c>).</summary>
    public static OnnxAttribute Strings(string name, params string[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new(name, TypeStrings, strings: (string[])values.Clone());
    }

    /// <summary>Encodes this attribute as an <c>AttributeProto</c> body.</summary>
    internal void WriteTo(ProtobufWriter writer)
    {
        writer.WriteString(FieldName, Name);

        // The value field is written even when it holds the default (0, "", empty list): ONNX
        // readers select the field by the type discriminator and must find the value present.
        switch (_type)
        {
            case TypeFloat:
                writer.WriteFloat(FieldF, _float);
                break;
            case TypeInt:
                writer.WriteInt64(FieldI, _int);
                break;
            case TypeString:
                writer.WriteString(FieldS, _string!);
                break;
            case TypeFloats:
                // Unpacked, as the proto2 schema ONNX Runtime compiles declares it; parsers accept both.
                foreach (float value in _floats!)
                {
                    writer.WriteFloat(FieldFloats, value);
                }

                break;
            case TypeInts:
                foreach (long value in _ints!)
                {
                    writer.WriteInt64(FieldInts, value);
                }

                break;
            case TypeStrings:
                foreach (string value in _strings!)
                {
                    writer.WriteString(FieldStrings, value);
                }

                break;
        }

        writer.WriteInt32(FieldType, _type);
    }
}
