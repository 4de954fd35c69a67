namespace Serverless.Onnx;

/// <summary>Int64 arithmetic on sizes read from untrusted files: results saturate at <see cref="long.MaxValue"/> instead of wrapping.</summary>
internal static class Saturating
{
    /// <summary>The product of sizes; a size of 0 or less makes it 0 (an empty or symbolic tensor).</summary>
    public static long Product(ReadOnlySpan<long> values)
    {
        long product = 1;
        foreach (var v in values)
        {
            product = Multiply(product, v);
            if (product == 0)
            {
                return 0;
            }
        }

        return product;
    }

    public static long Multiply(long a, long b)
    {
        if (a <= 0 || b <= 0)
        {
            return 0;
        }

        return a > long.MaxValue / b ? long.MaxValue : a * b;
    }

    public static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    /// <summary>What ONNX's int64 <c>Mul</c> or <c>Add</c> of two values gives (signs kept: -1 × -10^6 is a size), clamped instead of wrapping.</summary>
    public static long Value(long a, long b, bool multiply)
    {
        var exact = multiply ? (Int128)a * b : (Int128)a + b;
        return exact > long.MaxValue ? long.MaxValue : exact < long.MinValue ? long.MinValue : (long)exact;
    }
}
