"""Evaluate programs on one network's statistics, sharing common subexpressions.

Values: a ``tensor`` is a tuple of per-layer tensors, a ``layer`` value a 1-D float64 tensor
over layers, a ``scalar`` a 0-d float64 tensor, a ``set`` value a 1-D tensor over the networks
scored together (see :mod:`evoproxy.lang.ranks`: set-level programs are scored in two stages). Reductions and aggregations run in float64.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence, Union

import torch

from evoproxy.lang.ops import OPS, Op
from evoproxy.lang.program import Program, check_proxy

Value = Union[tuple, torch.Tensor]


def _map_unary(op: Op, x: Value) -> Value:
    if isinstance(x, tuple):
        return tuple(op.fn(t) for t in x)
    return op.fn(x)


def _map_binary(op: Op, a: Value, b: Value) -> Value:
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            raise ValueError(f"{op.name}: layer counts differ ({len(a)} vs {len(b)})")
        return tuple(op.fn(*common_dtype(x, y)) for x, y in zip(a, b))
    if isinstance(a, tuple):
        return tuple(op.fn(x, _layer_item(b, i, x)) for i, x in enumerate(a))
    if isinstance(b, tuple):
        return tuple(op.fn(_layer_item(a, i, y), y) for i, y in enumerate(b))
    return op.fn(*common_dtype(a, b))


def common_dtype(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both operands in their common dtype (statistics come in float32 and float64), so every
    well-typed program is computable."""
    if x.dtype == y.dtype:
        return x, y
    dtype = torch.promote_types(x.dtype, y.dtype)
    return x.to(dtype), y.to(dtype)


def _layer_item(v: torch.Tensor, i: int, like: torch.Tensor) -> torch.Tensor:
    """The number a scalar or per-layer value contributes to layer ``i``."""
    return (v if v.dim() == 0 else v[i]).to(like)


def apply_op(op: Op, args: Sequence[Value]) -> Value:
    family = op.family
    if family in ("unary", "reshape", "samples"):
        return _map_unary(op, args[0])
    if family in ("stack", "concat"):  # the type rules guarantee shapes that stack
        return (op.fn(args[0]),) if args[0] else args[0]
    if family in ("binary", "matmul"):
        return _map_binary(op, args[0], args[1])
    if family == "reduce":
        return torch.stack([op.fn(t).double() for t in args[0]])
    if family == "distance":  # one number per layer pair; a shape mismatch raises ValueError
        a, b = args
        if len(a) != len(b):
            raise ValueError(f"{op.name}: layer counts differ ({len(a)} vs {len(b)})")
        return torch.stack([op.fn(x, y).double() for x, y in zip(a, b)])
    return op.fn(args[0].double())  # aggregate, across, rank: over a 1-D vector


def eval_node(p: Program, stats: Mapping[str, Value], memo: dict[str, Value]) -> Value:
    """Value of ``p``; ``memo`` (keyed by node text) is shared across programs."""
    hit = memo.get(p.text)
    if hit is not None:
        return hit
    if p.is_const:
        value: Value = torch.tensor(p.value, dtype=torch.float64)
    elif p.is_stat:
        value = stats[p.head]
    else:
        value = apply_op(OPS.get(p.head), [eval_node(a, stats, memo) for a in p.args])
    memo[p.text] = value
    return value


def evaluate_many(programs: Sequence[Program], stats: Mapping[str, Value]) -> list[float]:
    """Score each program on one network; a program that fails scores NaN (screened later)."""
    memo: dict[str, Value] = {}
    scores = []
    for p in programs:
        try:
            scores.append(float(eval_node(p, stats, memo)))
        except (RuntimeError, ValueError, IndexError, KeyError):
            scores.append(math.nan)
    return scores


def evaluate(program: Program, stats: Mapping[str, Value]) -> float:
    return evaluate_many([program], stats)[0]


def to_callable(program: Program) -> Callable[[Mapping[str, Value]], float]:
    """A plain function ``f(stats) -> float`` for a whole-network program."""
    check_proxy(program)

    def proxy(stats: Mapping[str, Value]) -> float:
        return evaluate(program, stats)

    proxy.__doc__ = program.text
    return proxy

