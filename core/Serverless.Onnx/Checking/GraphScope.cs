using System.Globalization;

namespace Serverless.Onnx;

/// <summary>
/// The constants one graph (or model-local function) defines and the nodes that may fold them, for the checks that
/// need a whole graph read first. A subgraph's scope sees its outer graphs' constants, as ONNX Runtime's does.
/// </summary>
internal sealed class GraphScope
{
    /// <summary>Int64 tensors up to this many elements keep their values (possible shapes).</summary>
    public const long MaxValueElements = 16;

    private readonly GraphScope? _parent;
    private readonly Dictionary<string, KnownTensor> _known = new(StringComparer.Ordinal);
    private List<FoldNode>? _folds;

    public GraphScope(GraphScope? parent) => _parent = parent;

    /// <summary>Subgraphs of this graph's nodes (If/Loop/Scan bodies), read once this graph's constants are known.</summary>
    public List<List<Range>> Subgraphs { get; } = [];

    public void AddConstant(string name, KnownTensor tensor) => _known[name] = tensor;

    public void AddFold(FoldNode node) => (_folds ??= []).Add(node);

    /// <summary>
    /// Computes what every foldable node would build, over and over until nothing more can be told (nodes may come in
    /// any order), checking each built tensor against the bounds; the first one broken is noted in <paramref name="walk"/>.
    /// </summary>
    public void Fold(OnnxModelWalk walk)
    {
        if (_folds is null)
        {
            return;
        }

        var pending = _folds;
        var changed = true;
        while (changed && pending.Count > 0 && walk.Unbounded is null)
        {
            changed = false;
            for (var i = pending.Count - 1; i >= 0 && walk.Unbounded is null; i--)
            {
                var node = pending[i];
                if (!TryFold(node, walk, out var built))
                {
                    continue;
                }

                pending.RemoveAt(i);
                changed = true;
                if (node.Output is not null)
                {
                    _known[node.Output] = built;
                }
            }
        }
    }

    private bool TryGet(string name, out KnownTensor tensor)
    {
        for (var scope = this; scope is not null; scope = scope._parent)
        {
            if (scope._known.TryGetValue(name, out tensor))
            {
                return true;
            }
        }

        tensor = default;
        return false;
    }

    private bool TryGetValues(FoldNode node, int input, out long[] values)
    {
        values = [];
        if (node.Inputs.Length <= input || !TryGet(node.Inputs[input], out var tensor) || tensor.Values is null)
        {
            return false;
        }

        values = tensor.Values;
        return true;
    }

    /// <summary>What the node builds, once the inputs it needs are known; false while they are not (or never will be).</summary>
    private bool TryFold(FoldNode node, OnnxModelWalk walk, out KnownTensor built)
    {
        built = default;
        switch (node.OpType)
        {
            // Shape carriers: same values, another shape. They make nothing bigger than their input, so they add no bytes.
            case "Identity" or "Reshape" or "Squeeze" or "Unsqueeze" or "Flatten":
                if (node.Inputs.Length == 0 || !TryGet(node.Inputs[0], out var input))
                {
                    return false;
                }

                built = input;
                return true;
            case "Concat":
                return TryConcat(node, out built);
            case "Mul" or "Add":
                if (!TryGetValues(node, 0, out var a) || !TryGetValues(node, 1, out var b) || (a.Length != b.Length && a.Length != 1 && b.Length != 1))
                {
                    return false;
                }

                var result = new long[Math.Max(a.Length, b.Length)];
                for (var i = 0; i < result.Length; i++)
                {
                    var x = a[a.Length == 1 ? 0 : i];
                    var y = b[b.Length == 1 ? 0 : i];
                    result[i] = Saturating.Value(x, y, multiply: node.OpType == "Mul");
                }

                built = new KnownTensor(result.Length, 8, result);
                return true;
            case "ConstantOfShape":
                if (!TryGetValues(node, 0, out var shape))
                {
                    return false;
                }

                return Build(node, walk, Saturating.Product(shape), node.ValueElementBytes, shape, out built);
            case "Expand":
                if (!TryGetValues(node, 1, out var to))
                {
                    return false;
                }

                // Broadcast: at least the shape's product, and at least the input's size when that is known.
                var expanded = Saturating.Product(to);
                var elementBytes = 4;
                if (TryGet(node.Inputs[0], out var source))
                {
                    expanded = Math.Max(expanded, source.Elements);
                    elementBytes = source.ElementBytes;
                }

                return Build(node, walk, expanded, elementBytes, to, out built);
            case "Tile":
                if (!TryGet(node.Inputs[0], out var tiled) || !TryGetValues(node, 1, out var repeats))
                {
                    return false;
                }

                return Build(node, walk, Saturating.Multiply(tiled.Elements, Saturating.Product(repeats)), tiled.ElementBytes, repeats, out built);
            case "Range":
                if (!TryGetValues(node, 0, out var start) || !TryGetValues(node, 1, out var limit) || !TryGetValues(node, 2, out var delta)
                    || start.Length != 1 || limit.Length != 1 || delta.Length != 1 || delta[0] == 0)
                {
                    return false;
                }

                var count = Math.Ceiling(((double)limit[0] - start[0]) / delta[0]);
                return Build(node, walk, count <= 0 ? 0 : count >= long.MaxValue ? long.MaxValue : (long)count, 8, [start[0], limit[0], delta[0]], out built);
            default:
                return false;
        }
    }

    private bool TryConcat(FoldNode node, out KnownTensor built)
    {
        built = default;
        long elements = 0;
        var elementBytes = 8;
        var allValues = true;
        foreach (var name in node.Inputs)
        {
            if (!TryGet(name, out var part))
            {
                return false;
            }

            elements = Saturating.Add(elements, part.Elements);
            elementBytes = part.ElementBytes;
            allValues &= part.Values is not null;
        }

        long[]? values = null;
        if (allValues && elements <= MaxValueElements)
        {
            values = new long[elements];
            var at = 0;
            foreach (var name in node.Inputs)
            {
                TryGet(name, out var part);
                part.Values!.CopyTo(values, at);
                at += part.Values!.Length;
            }
        }

        built = new KnownTensor(elements, elementBytes, values);
        return true;
    }

    /// <summary>A tensor ORT would build at load: checked against the per-tensor bound and counted in the model's total.</summary>
    private static bool Build(FoldNode node, OnnxModelWalk walk, long elements, int elementBytes, long[] from, out KnownTensor built)
    {
        built = new KnownTensor(elements, elementBytes, null);
        var what = string.Create(CultureInfo.InvariantCulture, $"node {node.OpType} ('{node.Output}')");
        if (elements > OnnxModelBounds.MaxTensorElements)
        {
            walk.Unbounded ??= string.Create(CultureInfo.InvariantCulture,
                $"{what} would build a tensor of {(node.OpType == "Range" ? "range" : "shape")} [{string.Join(',', from)}] ({(elements == long.MaxValue ? "more than 9.2e18" : elements.ToString("N0", CultureInfo.InvariantCulture))} elements), over the limit of {OnnxModelBounds.MaxTensorElements:N0}; ONNX Runtime would build it when the model is loaded");
            return true;
        }

        walk.AddTensorBytes(Saturating.Multiply(elements, elementBytes), what);
        return true;
    }
}
