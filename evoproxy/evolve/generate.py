"""Random well-typed programs, generated top-down from the type wanted (never ill-typed)."""
from __future__ import annotations

import random
from typing import Iterable, Optional

from evoproxy.errors import EvoproxyError
from evoproxy.lang.ops import OPS, Op
from evoproxy.lang.typerules import SAMPLE_AXES
from evoproxy.lang.program import Program
from evoproxy.lang.stats import STATS
from evoproxy.lang.types import LAYER, LAYER_T, SCALAR_T, TENSOR, TypeCheckError, VType, layers_of, tensor

CONSTS = (0.5, 1.0, 2.0)


class _Dead(Exception):
    """No production fits at this depth; the caller picks another."""


def default_ops(stats: Iterable) -> list[str]:
    """Every registered op marked ``default``; the teacher ops only when a statistic comes from
    the teacher pass (so seeded runs on other benchmarks draw exactly as before they existed)."""
    teacher = any(s.pass_name == "kd" for s in stats)
    return [op.name for op in OPS.values() if op.default and (teacher or not op.teacher)]


class Generator:
    """Draws programs of a given type from chosen statistics and ops.

    ``leaf_prob`` is the chance of stopping early where a leaf fits; depth counts nodes on
    the longest root-to-leaf path.
    """

    def __init__(self, stats: Optional[Iterable[str]] = None, ops: Optional[Iterable[str]] = None,
                 consts: bool = True, leaf_prob: float = 0.3) -> None:
        self.stats = [STATS.get(s) for s in (stats if stats is not None else STATS)]
        self.ops = [OPS.get(o) for o in (ops if ops is not None else default_ops(self.stats))]
        self.consts = consts
        self.leaf_prob = leaf_prob
        self.by_family: dict[str, list[Op]] = {}
        for op in self.ops:
            self.by_family.setdefault(op.family, []).append(op)
        base = sorted({s.vtype.domain for s in self.stats if s.vtype.kind == TENSOR})
        self.base_domains = base
        # derived domain -> the (op, argument domain) pairs that make it; a channel-free op
        # makes one domain from two (attention_map of "T" and of "S")
        self.sources: dict[str, list[tuple[Op, str]]] = {}
        for op in self.by_family.get("reshape", []) + self.by_family.get("matmul", []):
            for d in base:
                self.sources.setdefault(_result(op, d), []).append((op, d))
        self.domains = base + list(self.sources)
        self.tensor_types = {s.vtype for s in self.stats if s.vtype.kind == TENSOR}
        self.axes = sorted({layers_of(d) for d in base} | {s.vtype for s in self.stats if s.vtype.kind == LAYER}
                           or {LAYER_T}, key=str)
        self.axes += [op.result_type(a) for op in self.by_family.get("across", []) for a in list(self.axes)]

    def program(self, rng: random.Random, vtype: VType = SCALAR_T, max_depth: int = 6,
                require_stat: bool = True) -> Program:
        for _ in range(1000):
            try:
                p = self._gen(rng, vtype, max_depth)
            except _Dead:
                continue
            if p.stats or not require_stat:  # constants alone score every network the same
                return p
        raise EvoproxyError(f"cannot generate a {vtype} program from stats {[s.name for s in self.stats]} and ops "
                            f"{[o.name for o in self.ops]}; add a reduction (l2, sum, layer_sum ...) or more stats")

    def leaves(self, vtype: VType) -> list[Program]:
        leaves = [Program.stat(s.name) for s in self.stats if s.vtype == vtype]
        if vtype == SCALAR_T and self.consts:
            leaves += [Program.const(c) for c in CONSTS]
        return leaves

    def _gen(self, rng: random.Random, vtype: VType, depth: int) -> Program:
        leaves = self.leaves(vtype)
        if depth <= 1 or (leaves and rng.random() < self.leaf_prob):
            if not leaves:
                raise _Dead
            return rng.choice(leaves)
        makers = self._productions(vtype)
        rng.shuffle(makers)
        for make in makers:
            try:
                return make(rng, depth - 1)
            except _Dead:
                continue
        if leaves:
            return rng.choice(leaves)
        raise _Dead

    def _productions(self, vtype: VType) -> list:
        fam = self.by_family
        prods = []
        if fam.get("unary"):
            prods.append(lambda r, d: Program.call(r.choice(fam["unary"]).name, self._gen(r, vtype, d)))
        if fam.get("binary"):
            prods.append(lambda r, d: self._binary(r, vtype, d))
        if vtype == SCALAR_T and fam.get("aggregate"):
            prods.append(lambda r, d: Program.call(r.choice(fam["aggregate"]).name, self._gen(r, self._axis(r), d)))
        if vtype.kind == LAYER and ":" in vtype.domain:  # an across op's axis, e.g. layer_diff:relu
            name, base = vtype.domain.split(":", 1)
            if name in {op.name for op in fam.get("across", [])}:
                prods.append(lambda r, d: Program.call(name, self._gen(r, VType(LAYER, "" if base == "layer" else base), d)))
        if vtype.kind == LAYER and fam.get("reduce") and self.domains:
            prods.append(lambda r, d: Program.call(
                r.choice(fam["reduce"]).name, self._gen(r, tensor(r.choice(self._domains(d, vtype))), d)))
        if vtype.kind == LAYER and fam.get("distance") and self.domains:
            prods.append(lambda r, d: self._distance(r, vtype, d))
        if vtype.kind == TENSOR and "(" in vtype.domain:
            prods.append(lambda r, d: self._derived(r, vtype, d))
        for axis in SAMPLE_AXES:
            if vtype.kind == TENSOR and fam.get("samples") and tensor(vtype.domain + axis) in self.tensor_types:
                prods.append(lambda r, d, a=axis: Program.call(r.choice(fam["samples"]).name,
                                                               self._gen(r, tensor(vtype.domain + a), d)))
        for family in ("stack", "concat"):
            if vtype.kind == TENSOR and fam.get(family) and _fits(fam[family][0], vtype):
                prods.append(lambda r, d, f=family: Program.call(r.choice(fam[f]).name, self._gen(r, vtype, d)))
        return prods

    def _domains(self, depth: int, layers: VType = LAYER_T) -> list[str]:
        """Domains a tensor of this depth can have (derived ones need a node above a leaf) whose
        reductions give per-layer values of type ``layers``."""
        domains = [d for d in (self.domains if depth > 1 else self.base_domains) if layers_of(d) == layers]
        if not domains:
            raise _Dead
        return domains

    def _axis(self, rng: random.Random) -> VType:
        """The per-layer type an aggregate reduces: the measured layers unless statistics bring
        other layer lists (no draw then, so seeded runs of such configs draw as before)."""
        return self.axes[0] if len(self.axes) == 1 else rng.choice(self.axes)

    def _binary(self, rng: random.Random, vtype: VType, depth: int) -> Program:
        op = rng.choice(self.by_family["binary"])
        other = vtype
        if vtype != SCALAR_T and rng.random() < 0.2:
            other = SCALAR_T if vtype.kind == LAYER or rng.random() < 0.5 else layers_of(vtype.domain)
        args = [self._gen(rng, vtype, depth), self._gen(rng, other, depth)]
        if op.commutative:
            rng.shuffle(args)
        return Program.call(op.name, *args)

    def _distance(self, rng: random.Random, layers: VType, depth: int) -> Program:
        op = rng.choice(self.by_family["distance"])
        t = tensor(rng.choice(self._domains(depth, layers)))
        args = [self._gen(rng, t, depth), self._gen(rng, t, depth)]
        if op.commutative:
            rng.shuffle(args)
        return Program.call(op.name, *args)

    def _derived(self, rng: random.Random, vtype: VType, depth: int) -> Program:
        pairs = self.sources.get(vtype.domain) or self._invert(vtype.domain)
        op, d = pairs[0] if len(pairs) == 1 else rng.choice(pairs)
        return Program.call(op.name, *(self._gen(rng, tensor(d), depth) for _ in range(op.arity)))

    def _invert(self, domain: str) -> list[tuple[Op, str]]:
        """Sources of a domain outside ``self.sources``, e.g. nested gram(spatial_sum(A))."""
        head, inner = domain.split("(", 1)
        name = "matmul" if head == "gram" else head
        if name not in OPS:
            raise _Dead
        op = OPS.get(name)
        return [(op, d) for d in self.base_domains if _result(op, d) == domain] or [(op, inner[:-1])]


def _fits(op: Op, vtype: VType) -> bool:
    try:
        return op.result_type(vtype) == vtype
    except TypeCheckError:
        return False


def _result(op: Op, domain: str) -> str:
    """The domain ``op`` makes from tensors of ``domain``."""
    return op.result_type(*[tensor(domain)] * op.arity).domain
