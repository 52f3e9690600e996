"""Exact TreeSHAP contributions of a LightGBM model, from tables built once per model.

A score's reasons need each feature's SHAP contribution (the path-dependent TreeSHAP that
LightGBM's `predict(pred_contrib=True)` computes). LightGBM recomputes, for every row and
every leaf, a polynomial over the leaf's path (O(depth^2) per leaf); that was a fifth of the
streaming pipeline's time. But a leaf's contributions depend on the row only through which of
the features on its path the row agrees with: one of 2^d patterns for a path of d distinct
features. `TreeExplainer` tabulates every leaf's contributions for every pattern when a model
is loaded, so a row costs one walk of each tree (one decision per node, the pattern carried
down) and d table reads per leaf.

The numbers are LightGBM's own (within floating-point rounding, about 1e-15): the same
decisions (`Tree::NumericalDecision`, `Tree::CategoricalDecision` of LightGBM 4), the same
cover fractions (training counts), the same bias (`Tree::ExpectedValue`). A test holds it to
`pred_contrib` over random models and rows. Tables grow as 2^d, so a model whose paths are
too deep to tabulate is refused with its depth; the trainer's default depth is 6.

Why the per-leaf formula holds: with p_k the row's agreement with path feature k (0 or 1) and
r_k the share of training rows that followed the path at k's splits, the leaf adds to the
model's expectation given a feature subset S the value v * prod(p_k if k in S else r_k). Its
Shapley value for feature j is v * (p_j - r_j) * sum over S within the agreeing features other
than j of w(|S|) * prod(r_k for k on the path, not in S, not j), w(s) = s! (d-s-1)! / d!.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import lightgbm as lgb
import numba
import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
FlagArray = npt.NDArray[np.int8]

MAX_TABLE_ENTRIES = 1 << 25
"""Table entries (8 bytes each) a model may need: 256 MiB. Depth 6 needs about 2^8 per leaf."""

_ZERO_THRESHOLD = float(np.float32(1e-35))
"""LightGBM's `kZeroThreshold`: what counts as zero for a split with zero as missing."""
_MISSING_NONE, _MISSING_ZERO, _MISSING_NAN = 0, 1, 2
_MISSING = {"None": _MISSING_NONE, "Zero": _MISSING_ZERO, "NaN": _MISSING_NAN}
_NUMERICAL, _CATEGORICAL = 0, 1


class UnexplainableModel(ValueError):
    """A model `TreeExplainer` cannot explain exactly; the message says why."""


class _Nodes(NamedTuple):
    """Every split of every tree, in one set of arrays (a child < 0 is leaf ~child). A
    NamedTuple, so numba takes it as one argument."""

    feature: IntArray
    threshold: npt.NDArray[np.float64]
    kind: FlagArray
    missing: FlagArray
    default_left: npt.NDArray[np.bool_]
    categories_start: IntArray
    categories_words: IntArray
    category_bits: npt.NDArray[np.uint32]
    left: IntArray
    right: IntArray
    slot: FlagArray
    """The split feature's position among its path's distinct features (one bit of a pattern)."""
    roots: IntArray


class _Leaves(NamedTuple):
    slots_start: IntArray
    """Leaf l's distinct path features are `slot_feature[slots_start[l]:slots_start[l + 1]]`."""
    slot_feature: IntArray
    table_start: IntArray
    table: npt.NDArray[np.float64]
    """Leaf l, pattern m (bit k set: the row agrees with slot k), slot j:
    `table[table_start[l] + m * d + j]`."""


class _Builder:
    """Walks `Booster.dump_model()` trees into `_Nodes` and per-leaf path facts."""

    def __init__(self) -> None:
        self.nodes: dict[str, list[Any]] = {
            name: [] for name in _Nodes._fields if name != "category_bits"
        }
        self.category_bits: list[int] = []
        self.leaf_value: list[float] = []
        self.slot_feature: list[int] = []
        self.slot_cover: list[float] = []
        self.slots_start: list[int] = [0]
        self.bias = 0.0

    def add_tree(self, root: Mapping[str, Any]) -> None:
        if "split_index" not in root:  # a single leaf: a constant, no contributions
            self.bias += float(root["leaf_value"])
            return
        self.nodes["roots"].append(len(self.nodes["feature"]))
        self._split(root, float(root["internal_count"]), {})

    def _split(self, node: Mapping[str, Any], total: float, path: dict[int, float]) -> int:
        """Add `node` (under a path of feature -> cover fraction); returns its child index."""
        if "split_index" not in node:
            return ~self._leaf(node, total, path)
        index = len(self.nodes["feature"])
        feature = int(node["split_feature"])
        columns = self.nodes
        columns["feature"].append(feature)
        columns["missing"].append(_MISSING[node["missing_type"]])
        columns["default_left"].append(bool(node["default_left"]))
        columns["slot"].append(list(path).index(feature) if feature in path else len(path))
        if node["decision_type"] == "==":
            codes = [int(code) for code in str(node["threshold"]).split("||")]
            words = [0] * (max(codes) // 32 + 1)
            for code in codes:
                words[code // 32] |= 1 << (code % 32)
            columns["kind"].append(_CATEGORICAL)
            columns["threshold"].append(math.nan)
            columns["categories_start"].append(len(self.category_bits))
            columns["categories_words"].append(len(words))
            self.category_bits.extend(words)
        else:
            columns["kind"].append(_NUMERICAL)
            columns["threshold"].append(float(node["threshold"]))
            columns["categories_start"].append(0)
            columns["categories_words"].append(0)
        columns["left"].append(0)
        columns["right"].append(0)
        count = float(node["internal_count"])
        for side in ("left", "right"):
            child = node[f"{side}_child"]
            cover = float(child.get("internal_count", child.get("leaf_count"))) / count
            below = dict(path)
            below[feature] = below.get(feature, 1.0) * cover
            columns[side][index] = self._split(child, total, below)
        return index

    def _leaf(self, node: Mapping[str, Any], total: float, path: dict[int, float]) -> int:
        value = float(node["leaf_value"])
        self.bias += float(node["leaf_count"]) / total * value  # LightGBM's ExpectedValue
        self.leaf_value.append(value)
        self.slot_feature.extend(path)  # insertion order: the slots' order
        self.slot_cover.extend(path.values())
        self.slots_start.append(len(self.slot_feature))
        return len(self.leaf_value) - 1

    def build(self) -> tuple[_Nodes, _Leaves, float]:
        def ints(name: str) -> IntArray:
            return np.asarray(self.nodes[name], dtype=np.int32)

        def flags(name: str) -> FlagArray:
            return np.asarray(self.nodes[name], dtype=np.int8)

        nodes = _Nodes(
            feature=ints("feature"),
            threshold=np.asarray(self.nodes["threshold"], dtype=np.float64),
            kind=flags("kind"),
            missing=flags("missing"),
            default_left=np.asarray(self.nodes["default_left"], dtype=np.bool_),
            categories_start=ints("categories_start"),
            categories_words=ints("categories_words"),
            category_bits=np.asarray(self.category_bits or [0], dtype=np.uint32),
            left=ints("left"),
            right=ints("right"),
            slot=flags("slot"),
            roots=ints("roots"),
        )
        slots_start = np.asarray(self.slots_start, dtype=np.int32)
        depth = np.diff(slots_start).tolist()
        sizes = [(1 << d) * d for d in depth]  # Python ints: no overflow on absurd depths
        if sum(sizes) > MAX_TABLE_ENTRIES:
            raise UnexplainableModel(
                f"paths of up to {max(depth)} distinct features need {sum(sizes):,} table "
                f"entries (at most {MAX_TABLE_ENTRIES:,}): train with a smaller max_depth"
            )
        table_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
        table = np.empty(int(table_start[-1]))
        _fill_tables(
            np.asarray(self.leaf_value),
            slots_start,
            np.asarray(self.slot_cover),
            table_start,
            table,
        )
        leaves = _Leaves(slots_start, np.asarray(self.slot_feature, np.int32), table_start, table)
        return nodes, leaves, self.bias


class TreeExplainer:
    """One LightGBM model's SHAP contributions, laid out as `pred_contrib` lays them out."""

    def __init__(self, booster: lgb.Booster) -> None:
        """Tabulate `booster` (its best iteration, as `predict` uses); `UnexplainableModel` if
        it is not a single-output model of plain trees."""
        dump = booster.dump_model()
        if dump.get("num_tree_per_iteration", 1) != 1:
            raise UnexplainableModel("a model with several outputs per row (multiclass)")
        if dump.get("average_output"):
            raise UnexplainableModel("a random-forest model (average_output)")
        builder = _Builder()
        for tree in dump["tree_info"]:
            if tree.get("is_linear"):
                raise UnexplainableModel("a model with linear trees")
            builder.add_tree(tree["tree_structure"])
        self.num_features = int(dump["max_feature_idx"]) + 1
        self._nodes, self._leaves, self._bias = builder.build()

    def contributions(self, matrix: FloatMatrix) -> FloatMatrix:
        """One column per feature, then the bias: each row sums to its raw score."""
        out = np.zeros((matrix.shape[0], self.num_features + 1))
        _explain(np.ascontiguousarray(matrix, dtype=np.float64), out, self._nodes, self._leaves)
        out[:, -1] = self._bias
        return out


@numba.njit(cache=True)
def _fill_tables(
    leaf_value: npt.NDArray[np.float64],
    slots_start: IntArray,
    slot_cover: npt.NDArray[np.float64],
    table_start: IntArray,
    table: npt.NDArray[np.float64],
) -> None:
    """Every leaf's contributions for every agreement pattern (the module's formula)."""
    for leaf in range(leaf_value.shape[0]):
        first = slots_start[leaf]
        depth = slots_start[leaf + 1] - first
        cover = slot_cover[first : first + depth]
        weight = np.empty(depth)  # w(s) = s! (d-s-1)! / d!
        weight[0] = 1.0 / depth
        for size in range(1, depth):
            weight[size] = weight[size - 1] * size / (depth - size)
        symmetric = np.empty(depth + 1)  # elementary symmetric sums of the agreeing covers
        for pattern in range(1 << depth):
            for slot in range(depth):
                symmetric[:] = 0.0
                symmetric[0] = 1.0
                agreeing = 0
                disagreeing = 1.0
                for other in range(depth):
                    if other == slot:
                        continue
                    if (pattern >> other) & 1:
                        agreeing += 1
                        for order in range(agreeing, 0, -1):
                            symmetric[order] += symmetric[order - 1] * cover[other]
                    else:
                        disagreeing *= cover[other]
                total = 0.0
                for size in range(agreeing + 1):
                    total += weight[size] * symmetric[agreeing - size]
                agrees = float((pattern >> slot) & 1)
                table[table_start[leaf] + pattern * depth + slot] = (
                    leaf_value[leaf] * (agrees - cover[slot]) * disagreeing * total
                )


@numba.njit(cache=True)
def _explain(matrix: FloatMatrix, out: FloatMatrix, nodes: _Nodes, leaves: _Leaves) -> None:
    """Add each row's contributions to `out`: walk every tree once, carrying down the
    pattern of path features the row disagrees with, and read each leaf's table row."""
    feature, threshold, kind, missing = nodes.feature, nodes.threshold, nodes.kind, nodes.missing
    default_left, category_bits = nodes.default_left, nodes.category_bits
    categories_start, categories_words = nodes.categories_start, nodes.categories_words
    left, right, slot, roots = nodes.left, nodes.right, nodes.slot, nodes.roots
    slots_start, slot_feature = leaves.slots_start, leaves.slot_feature
    table_start, table = leaves.table_start, leaves.table
    stack_node = np.empty(2 * feature.shape[0] + 2, np.int64)
    stack_disagreeing = np.empty(2 * feature.shape[0] + 2, np.int64)
    for row in range(matrix.shape[0]):
        for root in roots:
            top = 0
            stack_node[0], stack_disagreeing[0] = root, 0
            while top >= 0:
                node, disagreeing = stack_node[top], stack_disagreeing[top]
                top -= 1
                if node < 0:
                    leaf = ~node
                    first = slots_start[leaf]
                    depth = slots_start[leaf + 1] - first
                    at = table_start[leaf] + (((1 << depth) - 1) ^ disagreeing) * depth
                    for index in range(depth):
                        out[row, slot_feature[first + index]] += table[at + index]
                    continue
                value = matrix[row, feature[node]]
                if kind[node] == _CATEGORICAL:  # LightGBM's CategoricalDecision
                    goes_left = False
                    if not math.isnan(value) and value > -1.0:
                        code = int(value)
                        word = code >> 5
                        if word < categories_words[node]:
                            bits = category_bits[categories_start[node] + word]
                            goes_left = (bits >> (code & 31)) & 1 == 1
                else:  # LightGBM's NumericalDecision
                    if math.isnan(value) and missing[node] != _MISSING_NAN:
                        value = 0.0
                    zero = -_ZERO_THRESHOLD <= value <= _ZERO_THRESHOLD
                    if (missing[node] == _MISSING_ZERO and zero) or (
                        missing[node] == _MISSING_NAN and math.isnan(value)
                    ):
                        goes_left = default_left[node]
                    else:
                        goes_left = value <= threshold[node]
                bit = 1 << slot[node]
                top += 1  # right below left: nodes and leaves are visited in the order built
                stack_node[top] = right[node]
                stack_disagreeing[top] = disagreeing | bit if goes_left else disagreeing
                top += 1
                stack_node[top] = left[node]
                stack_disagreeing[top] = disagreeing if goes_left else disagreeing | bit
