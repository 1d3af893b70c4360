"""Evaluate programs on a *pack* of networks at once: same-shape layers run as one op call.

The network-by-network interpreter (:mod:`evoproxy.lang.interpret`) calls an op once per layer
per network: 50 layers x 200 networks is 10,000 calls of microseconds each for one node. Here a
pack's values are laid out flat over all its layers:

* a tensor value is a list of *groups*: the layers of one shape and dtype stacked along a new
  first axis (up to :data:`GROUP_NUMEL` elements per group), or one big layer alone (a view,
  never copied), each with the flat positions of its layers;
* a layer value is one vector over all the pack's layers; a scalar value one number per network.

An op with a batched form (:attr:`evoproxy.lang.ops.Op.batch_fn`) runs once per group; any other
op runs network by network through :func:`~evoproxy.lang.interpret.apply_op` and its results are
packed again. So a program computes here what it computes network by network, up to the order of
float additions inside a reduction.

An :class:`OpObserver` passed to :func:`eval_packed` sees every op application with its wall time,
and every statistic leaf (instrumentation, e.g. ``experiments/perf/op_floor.py``); without one
nothing is timed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Hashable, Mapping, Optional, Protocol, Sequence, Union

import torch

from evoproxy.lang.interpret import common_dtype, apply_op
from evoproxy.lang.ops import OPS, Op
from evoproxy.lang.program import Program

GROUP_NUMEL = 1 << 15
"""Elements of a stacked group at most (128 KB of float32): per-layer calls cost interpreter time,
one big stack costs memory bandwidth (a chain of ops on it leaves the cache)."""


@dataclass(frozen=True)
class Layout:
    """Which network each flat layer position belongs to."""

    counts: tuple[int, ...]  # layers per network

    @property
    def n(self) -> int:
        return len(self.counts)

    @cached_property
    def seg(self) -> torch.Tensor:
        return torch.repeat_interleave(torch.arange(self.n), torch.tensor(self.counts, dtype=torch.long))


@dataclass(frozen=True)
class Groups:
    layout: Layout
    groups: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # (flat positions, stacked layers)


@dataclass(frozen=True)
class Layers:
    layout: Layout
    v: torch.Tensor  # one entry per flat layer position


@dataclass(frozen=True)
class Nets:
    v: torch.Tensor  # one entry per network


Packed = Union[Groups, Layers, Nets]


def pack(values: Sequence) -> Packed:
    """One packed value from the values of the same node on each network of the pack."""
    if all(isinstance(v, tuple) for v in values):
        return _pack_layers(values)
    if not all(isinstance(v, torch.Tensor) and v.dim() == values[0].dim() <= 1 for v in values):
        raise ValueError("the networks of a pack disagree on a value's kind")
    if values[0].dim() == 0:
        return Nets(torch.stack(list(values)))
    return Layers(Layout(tuple(len(v) for v in values)), torch.cat(list(values)))


def _pack_layers(tuples: Sequence[tuple]) -> Groups:
    """Same-shape layers stacked in groups of at most :data:`GROUP_NUMEL` elements (a group stays in
    the CPU's cache through a chain of ops); a bigger layer is a group of its own (a view)."""
    open_groups: dict[tuple, list] = {}
    done: list[list] = []
    position = 0
    for layers in tuples:
        for x in layers:
            key = (tuple(x.shape), x.dtype)
            members = open_groups.setdefault(key, [])
            if members and (len(members) + 1) * x.numel() > GROUP_NUMEL:
                done.append(members)
                members = open_groups[key] = []
            members.append((position, x))
            position += 1
    done.extend(m for m in open_groups.values() if m)
    stacked = tuple((torch.tensor([p for p, _ in m]), m[0][1].unsqueeze(0) if len(m) == 1 else
                     torch.stack([x for _, x in m])) for m in done)
    return Groups(Layout(tuple(len(t) for t in tuples)), stacked)


def unpack(value: Packed) -> list:
    """The value of each network of the pack, as the network-by-network interpreter holds it."""
    if isinstance(value, Nets):
        return list(value.v.unbind())
    if isinstance(value, Layers):
        return list(torch.split(value.v, list(value.layout.counts)))
    items: list = [None] * sum(value.layout.counts)
    for positions, stacked in value.groups:
        for row, p in enumerate(positions.tolist()):
            items[p] = stacked[row]
    out, start = [], 0
    for count in value.layout.counts:
        out.append(tuple(items[start:start + count]))
        start += count
    return out


def _networks(args: Sequence[Packed]) -> int:
    a = args[0]
    return a.v.numel() if isinstance(a, Nets) else a.layout.n


def per_network(op: Op, args: Sequence[Packed]) -> Packed:
    """``op`` network by network (the interpreter's own code), packed again."""
    parts = [unpack(a) for a in args]
    return pack([apply_op(op, [p[i] for p in parts]) for i in range(_networks(args))])


def _same_groups(a: Groups, b: Groups) -> bool:
    return a.layout == b.layout and len(a.groups) == len(b.groups) and all(
        x.shape == y.shape and torch.equal(p, q) for (p, x), (q, y) in zip(a.groups, b.groups))


def _per_layer(v: Packed, layout: Layout) -> Optional[torch.Tensor]:
    """A layer or scalar value as one number per flat layer position (None if it cannot be)."""
    if isinstance(v, Nets):
        return v.v[layout.seg]
    if isinstance(v, Layers) and v.layout == layout:
        return v.v
    return None


def _broadcast(fn: Callable, t: torch.Tensor, per_row: torch.Tensor, swap: bool) -> torch.Tensor:
    b = per_row.to(t).reshape(-1, *([1] * (t.dim() - 1)))
    return fn(b, t) if swap else fn(t, b)


def _binary(op: Op, fn: Callable, a: Packed, b: Packed) -> Optional[Packed]:
    if isinstance(a, Groups) and isinstance(b, Groups):
        if not _same_groups(a, b):
            return None
        return Groups(a.layout, tuple((p, fn(*common_dtype(x, y))) for (p, x), (_, y) in zip(a.groups, b.groups)))
    if isinstance(a, Groups) or isinstance(b, Groups):
        g, other, swap = (a, b, False) if isinstance(a, Groups) else (b, a, True)
        rows = _per_layer(other, g.layout)
        if rows is None:
            return None
        return Groups(g.layout, tuple((p, _broadcast(fn, x, rows[p], swap)) for p, x in g.groups))
    if isinstance(a, Nets) and isinstance(b, Nets):
        return Nets(fn(*common_dtype(a.v, b.v)))
    layout = a.layout if isinstance(a, Layers) else b.layout
    va, vb = _per_layer(a, layout), _per_layer(b, layout)
    if va is None or vb is None:
        return None
    return Layers(layout, fn(*common_dtype(va, vb)))


def _fast(op: Op, args: Sequence[Packed]) -> Optional[Packed]:
    """``op`` on whole groups or vectors, or None where it has no batched form for these values."""
    fn, family, x = op.batch_fn, op.family, args[0]
    if fn is None:
        return None
    if family in ("unary", "reshape", "samples"):
        if isinstance(x, Groups):
            return Groups(x.layout, tuple((p, fn(t)) for p, t in x.groups))
        if op.elementwise:
            return Layers(x.layout, fn(x.v)) if isinstance(x, Layers) else Nets(fn(x.v))
        return None
    if family in ("binary", "matmul"):
        if family == "matmul" and not (isinstance(x, Groups) and isinstance(args[1], Groups)):
            return None
        return _binary(op, fn, x, args[1])
    if family == "reduce" and isinstance(x, Groups):
        v = torch.zeros(sum(x.layout.counts), dtype=torch.float64)
        for p, t in x.groups:
            v[p] = fn(t).double()
        return Layers(x.layout, v)
    if family == "aggregate" and isinstance(x, Layers):
        return Nets(fn(x.v.double(), x.layout.seg, x.layout.n))
    return None


def apply_packed(op: Op, args: Sequence[Packed]) -> Packed:
    out = _fast(op, args)
    return out if out is not None else per_network(op, args)


class OpObserver(Protocol):
    """Instrumentation of :func:`eval_packed` (off unless one is passed). It is called on the thread
    that scores the pack (several at once if packs are scored on several threads) and must not
    change the values it is shown."""

    def op(self, node: Program, op: Op, args: Sequence[Packed], out: Packed, seconds: float,
           pack: Optional[Hashable]) -> None:
        """After ``op`` was applied to ``args`` for ``node`` (not a memo hit), giving ``out`` in
        ``seconds`` of wall time (``time.perf_counter`` around :func:`apply_packed`)."""

    def stat(self, node: Program, value: Packed, pack: Optional[Hashable]) -> None:
        """After the statistic leaf ``node`` was looked up (not a memo hit) as ``value``."""


def eval_packed(p: Program, leaf: Callable[[str], Packed], memo: dict[str, Packed], n: int,
                observer: Optional[OpObserver] = None, pack: Optional[Hashable] = None) -> Packed:
    """Value of ``p`` on every network of a pack; ``leaf(name)`` packs a statistic, ``memo`` (keyed by
    node text) may be shared across programs. ``observer``, if given, is told of every op applied and
    statistic looked up, with ``pack`` (what names this pack to it)."""
    hit = memo.get(p.text)
    if hit is not None:
        return hit
    if p.is_const:
        value: Packed = Nets(torch.full((n,), p.value, dtype=torch.float64))
    elif p.is_stat:
        value = leaf(p.head)
        if observer is not None:
            observer.stat(p, value, pack)
    elif observer is None:  # the plain path: no clock read
        value = apply_packed(OPS.get(p.head), [eval_packed(a, leaf, memo, n) for a in p.args])
    else:
        op, args = OPS.get(p.head), [eval_packed(a, leaf, memo, n, observer, pack) for a in p.args]
        start = time.perf_counter()
        value = apply_packed(op, args)
        observer.op(p, op, args, value, time.perf_counter() - start, pack)
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
