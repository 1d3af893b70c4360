"""Evaluate a program on a pack of networks (:mod:`evoproxy.lang.packed`), reductions group by group.

Node by node, an op on a tensor value runs over all of a pack's groups before the next op reads its
result back: at batch 16 an activation is 1 MB a layer, so every intermediate of a chain of ops goes
out to memory and back. A reduction to one number per layer whose tensor subtree has batched ops
only runs here *group by group* instead: the whole subtree on one group, reduced at once, then the
next group, so a group's intermediates stay in the CPU's cache and are never all held at once. Each
group sees the same op calls on the same tensors as node by node, so the values are the same bits;
a subtree whose values' groups do not line up runs node by node.
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import torch

from evoproxy.lang.interpret import common_dtype
from evoproxy.lang.ops import OPS, Op
from evoproxy.lang.packed import Groups, Layers, Layout, Nets, Packed, apply_packed, broadcast_rows, pack, per_layer
from evoproxy.lang.program import Program
from evoproxy.lang.types import TENSOR

TENSOR_FAMILIES = frozenset({"unary", "reshape", "samples", "binary", "matmul"})


class _Unfit(Exception):
    """The subtree cannot run group by group (it runs node by node)."""


def eval_packed(p: Program, leaf: Callable[[str], Packed], memo: dict[str, Packed], n: int,
                groupwise: bool = True) -> Packed:
    """Value of ``p`` on every network of a pack; ``leaf(name)`` packs a statistic, ``memo`` (keyed by
    node text) may be shared across programs; ``groupwise=False`` evaluates node by node only."""
    hit = memo.get(p.text)
    if hit is not None:
        return hit
    if p.is_const:
        value: Optional[Packed] = Nets(torch.full((n,), p.value, dtype=torch.float64))
    elif p.is_stat:
        value = leaf(p.head)
    else:
        value = _reduce_groupwise(p, leaf, memo, n) if groupwise else None
        if value is None:
            value = apply_packed(OPS.get(p.head), [eval_packed(a, leaf, memo, n, groupwise) for a in p.args])
    memo[p.text] = value
    return value


def pack_stats(stats: Sequence[Mapping[str, object]]) -> Callable[[str], Packed]:
    """``leaf(name)``: the statistic ``name`` of every network packed (once); KeyError if one lacks it."""
    done: dict[str, Packed] = {}

    def leaf(name: str) -> Packed:
        if name not in done:
            done[name] = pack([s[name] for s in stats])
        return done[name]
    return leaf


def _reduce_groupwise(p: Program, leaf, memo, n) -> Optional[Layers]:
    """A reduction's value computed group by group, or None where its subtree cannot run so."""
    op = OPS.get(p.head)
    if op.family != "reduce" or op.batch_fn is None or p.args[0].vtype.kind != TENSOR or p.args[0].is_stat:
        return None
    inputs: dict[str, Packed] = {}
    try:
        _gather(p.args[0], leaf, memo, n, inputs)
        layout, positions = _common_groups(inputs.values())
        rows = {t: per_layer(v, layout) for t, v in inputs.items() if not isinstance(v, Groups)}
        if any(r is None for r in rows.values()):
            return None
        out = torch.zeros(sum(layout.counts), dtype=torch.float64)
        for g, pos in enumerate(positions):
            value, _ = _run(p.args[0], g, pos, inputs, rows, {})
            out[pos] = op.batch_fn(value).double()
    except _Unfit:
        return None
    return Layers(layout, out)


def _gather(node: Program, leaf, memo, n, inputs: dict[str, Packed]) -> None:
    """The subtree's inputs: statistics, known tensor values and every layer or scalar value."""
    if node.text in inputs:
        return
    hit = memo.get(node.text)
    if hit is not None or node.is_stat or node.is_const or node.vtype.kind != TENSOR:
        inputs[node.text] = hit if hit is not None else eval_packed(node, leaf, memo, n)
        return
    op = OPS.get(node.head)
    if op.family not in TENSOR_FAMILIES or op.batch_fn is None:
        raise _Unfit
    for a in node.args:
        _gather(a, leaf, memo, n, inputs)


def _common_groups(values) -> tuple[Layout, list[torch.Tensor]]:
    """The layout and group positions every tensor input shares."""
    groups = [v for v in values if isinstance(v, Groups)]
    if not groups:
        raise _Unfit
    first = groups[0]
    for other in groups[1:]:
        if other.layout != first.layout or len(other.groups) != len(first.groups) or any(
                not torch.equal(p, q) for (p, _), (q, _) in zip(first.groups, other.groups)):
            raise _Unfit
    return first.layout, [p for p, _ in first.groups]


def _run(node: Program, g: int, pos: torch.Tensor, inputs: dict, rows: dict, local: dict) -> tuple[torch.Tensor, bool]:
    """(value on group ``g``, whether it is one number per layer) of a node of the subtree."""
    text = node.text
    if text not in local:
        if text in rows:
            local[text] = rows[text][pos], True
        elif text in inputs:
            local[text] = inputs[text].groups[g][1], False
        else:
            op = OPS.get(node.head)
            local[text] = _apply(op, [_run(a, g, pos, inputs, rows, local) for a in node.args]), False
    return local[text]


def _apply(op: Op, args: list[tuple[torch.Tensor, bool]]) -> torch.Tensor:
    """``op`` on one group, as :func:`~evoproxy.lang.packed.apply_packed` runs it on that group."""
    fn = op.batch_fn
    if op.family in ("unary", "reshape", "samples"):
        return fn(args[0][0])
    (x, x_is_row), (y, y_is_row) = args
    if not x_is_row and not y_is_row:
        if x.shape != y.shape:
            raise _Unfit
        return fn(*common_dtype(x, y))
    if op.family == "matmul":
        raise _Unfit
    return broadcast_rows(fn, y, x, True) if x_is_row else broadcast_rows(fn, x, y, False)
