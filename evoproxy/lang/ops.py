"""The op registry: every function a proxy program may call, with its type rule and exports.

Families and their type rules (see :mod:`evoproxy.lang.types`):

* ``unary``     — elementwise, any kind -> same kind (on a ``layer`` value it acts across layers)
* ``binary``    — elementwise; equal kinds (tensors of one domain), or a ``scalar`` / ``layer``
  broadcast against a ``tensor`` (one number per layer)
* ``matmul``    — tensor[d] x tensor[d] -> tensor[gram(d)]: each layer flattened to rows
* ``reshape``   — tensor[d] -> tensor[name(d)], e.g. summing out spatial dims; a channel-free
  transform maps teacher and student features ("T", "S") to one domain, name(F)
* ``reduce``    — tensor -> layer (one number per layer tensor)
* ``distance``  — tensor[d] x tensor[d] -> layer: one number per layer pair (teacher-student
  comparisons, :mod:`evoproxy.lang.teacher_ops`)
* ``aggregate`` — layer -> scalar
* ``samples``   — tensor[d|n] -> tensor[d]: reduces the leading sample axis of a per-sample (or
  per-split) statistic, so the result meets the plain statistic of its shape (``grad_split``
  reduced meets ``weight``)
* ``stack``     — tensor[k] -> tensor[k] with one layer: sums the per-layer batch kernels
  (``gram``/``corr`` of batch-first statistics are n x n in every layer), NASWOT's sum over ReLUs
* ``concat``    — tensor[neurons(d)] -> one layer: the unit-by-sample rows of every layer of a
  batch-first statistic stacked (n columns in every layer), SWAP's patterns over all ReLUs
* ``across``    — layer -> layer over a new axis, e.g. differences of successive layers (AZ-NAS's
  progressivity): the result never meets the layers it came from
* ``rank``      — scalar or set -> set: a network's rank among the networks scored together
  (:mod:`evoproxy.lang.ranks`)

Ops are pure: they never write into their inputs, and zero or negative input gives a defined
value (``log`` of a non-positive number is 0, division by 0 is 0) instead of NaN. Every op is
run on zeros, negatives and large values when it is registered, and refused if it mutates its
input or returns NaN there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from evoproxy.registry import Registry
from evoproxy.lang.types import (LAYER, SCALAR, SCALAR_T, SET, SET_T, TENSOR, TypeCheckError, VType, layers_of,
                                 tensor)

FAMILIES = ("unary", "binary", "matmul", "reshape", "reduce", "distance", "aggregate", "samples", "stack",
            "concat", "across", "rank")
PER_SAMPLE = "|n"
"""Suffix of a domain whose tensors carry a leading sample (or batch split) axis."""
BATCH_FIRST = {"A", "R", "X"}
"""Domains whose tensors are batch-first (layer outputs, ReLU inputs, input gradients): their row
kernels are n x n."""
EXP_CLAMP = 50.0
# Domains that differ only in channel count: a channel-free transform gives both one domain
CHANNEL_FREE = {"T": "F", "S": "F", "TK": "K", "SK": "K"}  # teacher/student pairs


@dataclass(frozen=True)
class Op:
    """One registered function. ``fn`` works on plain tensors; the evaluator maps it over layers."""

    name: str
    family: str
    fn: Callable[..., torch.Tensor]
    doc: str
    latex: str  # template with {0}, {1} for the arguments
    sympy: Optional[Callable] = None  # exact sympy form when one exists
    commutative: bool = False
    channel_free: bool = False  # reshape only: output shape independent of the channel count
    teacher: bool = False  # a teacher-student op: in a default op set only when teacher statistics are
    default: bool = True  # in the default op set of a search (else named in the config's ops)

    @property
    def arity(self) -> int:
        return 2 if self.family in ("binary", "matmul", "distance") else 1

    def result_type(self, *args: VType) -> VType:
        return _RULES[self.family](self, *args)


def _same(op: Op, a: VType) -> VType:
    return a


def _broadcast(op: Op, a: VType, b: VType) -> VType:
    if a == b:
        return a
    order = {SCALAR: 0, SET: 1, LAYER: 1, TENSOR: 2}  # a set value meets only scalars and set values
    lo, hi = sorted((a, b), key=lambda t: order[t.kind])
    if lo.kind == SCALAR or (lo.kind == LAYER and hi.kind == TENSOR and layers_of(hi.domain) == lo):
        return hi
    raise TypeCheckError(
        f"{op.name} cannot pair {a} with {b}: elementwise ops need statistics of one shape "
        "(e.g. grad with weight, act with act_grad)")


def _tensor_only(op: Op, a: VType) -> None:
    if a.kind != TENSOR:
        raise TypeCheckError(f"{op.name} needs a per-layer tensor, got {a}")


def _matmul(op: Op, a: VType, b: VType) -> VType:
    _tensor_only(op, a)
    _tensor_only(op, b)
    if a != b:
        raise TypeCheckError(f"{op.name} cannot pair {a} with {b}: shapes differ")
    return tensor(f"gram({a.domain})")


def _reshape(op: Op, a: VType) -> VType:
    _tensor_only(op, a)
    d = CHANNEL_FREE.get(a.domain, a.domain) if op.channel_free else a.domain
    return tensor(f"{op.name}({d})")


def _reduce(op: Op, a: VType) -> VType:
    _tensor_only(op, a)
    return layers_of(a.domain)


def _distance(op: Op, a: VType, b: VType) -> VType:
    if a.kind != TENSOR or a != b:
        raise TypeCheckError(
            f"{op.name} cannot compare {a} with {b}: distances need two tensors of one domain "
            "(map teacher and student features through a channel-free transform first, "
            "e.g. attention_map or gram_batch)")
    return layers_of(a.domain)


def _aggregate(op: Op, a: VType) -> VType:
    if a.kind != LAYER:
        raise TypeCheckError(f"{op.name} aggregates per-layer numbers, got {a}")
    return SCALAR_T


def _samples(op: Op, a: VType) -> VType:
    if a.kind != TENSOR or not a.domain.endswith(PER_SAMPLE):
        raise TypeCheckError(f"{op.name} reduces the sample axis of a per-sample statistic "
                             f"(e.g. grad_split), got {a}")
    return tensor(a.domain[:-len(PER_SAMPLE)])


def batch_kernel(domain: str) -> bool:
    """Whether tensors of ``domain`` are n x n in every layer (a row kernel of batch-first data)."""
    head, _, inner = domain.partition("(")
    return head in ("gram", "corr") and inner[:-1] in BATCH_FIRST


def _stack(op: Op, a: VType) -> VType:
    if a.kind != TENSOR or not batch_kernel(a.domain):
        raise TypeCheckError(f"{op.name} sums per-layer batch kernels (gram or corr of act, act_grad "
                             f"or relu_in), got {a}")
    return a


def _concat(op: Op, a: VType) -> VType:
    head, _, inner = a.domain.partition("(") if a.kind == TENSOR else ("", "", "")
    if head != "neurons" or inner[:-1] not in BATCH_FIRST:
        raise TypeCheckError(f"{op.name} stacks unit-by-sample rows (neurons of act, act_grad or relu_in), got {a}")
    return a


def _across(op: Op, a: VType) -> VType:
    if a.kind != LAYER:
        raise TypeCheckError(f"{op.name} works across per-layer numbers, got {a}")
    return VType(LAYER, f"{op.name}:{a.domain or 'layer'}")


def _rank(op: Op, a: VType) -> VType:
    if a.kind not in (SCALAR, SET):
        raise TypeCheckError(f"{op.name} ranks one number per network, got {a}")
    return SET_T


_RULES = {"unary": _same, "binary": _broadcast, "matmul": _matmul, "reshape": _reshape,
          "reduce": _reduce, "distance": _distance, "aggregate": _aggregate, "samples": _samples,
          "stack": _stack, "concat": _concat, "across": _across, "rank": _rank}

OPS: Registry[Op] = Registry("op")


def register_op(op: Op) -> Op:
    """Check an op on awkward inputs, then add it to the registry."""
    if op.family not in FAMILIES:
        raise ValueError(f"op {op.name}: unknown family {op.family!r}")
    _check_op(op)
    return OPS.add(op.name, op)


def _check_op(op: Op) -> None:
    try:
        op.latex.format(*("x",) * op.arity)
    except (IndexError, KeyError, ValueError) as e:
        raise ValueError(f"op {op.name}: LaTeX template {op.latex!r} does not format with {op.arity} "
                         f"argument(s) ({e}); write literal braces as {{{{ }}}}") from None
    probes = [torch.zeros(2, 3, 2, 2), -torch.rand(2, 3, 2, 2) - 0.5, torch.full((2, 3, 2, 2), 1e4)]
    if op.family in ("unary", "binary", "aggregate"):
        probes.append(torch.tensor([0.0, -2.0, 3.0]))  # a layer vector
    for x in probes:
        args = (x, x.flip(0)) if op.arity == 2 else (x,)
        before = [a.clone() for a in args]
        out = op.fn(*args)
        if any(not torch.equal(a, b) for a, b in zip(args, before)):
            raise ValueError(f"op {op.name} writes into its input")
        if torch.isnan(out).any():
            raise ValueError(f"op {op.name} returns NaN on {x.flatten()[:3].tolist()}...")


# ---- elementwise helpers (public: plugin ops use them): defined everywhere, never in place --

def safe_log(x: torch.Tensor) -> torch.Tensor:
    return torch.log(torch.where(x > 0, x, torch.ones_like(x))) * (x > 0)


def safe_invert(x: torch.Tensor) -> torch.Tensor:
    nz = x != 0
    return torch.where(nz, 1.0 / torch.where(nz, x, torch.ones_like(x)), torch.zeros_like(x))


def safe_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a * safe_invert(b)


def _flat_apply(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Apply ``fn`` over all elements of a tensor viewed as one vector."""
    def apply(x: torch.Tensor) -> torch.Tensor:
        return fn(x.reshape(-1)).reshape(x.shape)
    return apply


def _normalize(v: torch.Tensor) -> torch.Tensor:
    std = v.std(unbiased=False) if v.numel() > 1 else v.new_zeros(())
    return (v - v.mean()) / std if std > 0 else torch.zeros_like(v)


def _minmax(v: torch.Tensor) -> torch.Tensor:
    span = v.max() - v.min()
    return (v - v.min()) / span if span > 0 else torch.zeros_like(v)


def rows(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1) if x.dim() > 1 else x.reshape(1, -1)


def _sum_spatial(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=tuple(range(2, x.dim()))) if x.dim() > 2 else x


def _mean_batch(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=0) if x.dim() > 1 else x


def _std(x: torch.Tensor) -> torch.Tensor:
    return x.std(unbiased=False) if x.numel() > 1 else x.new_zeros(())


def _sym(name: str) -> Callable:
    import sympy
    return sympy.Function(name)


def _unary(name, fn, doc, latex, sympy=None):
    register_op(Op(name, "unary", fn, doc, latex, sympy))


_unary("identity", lambda x: x.clone(), "x", "{0}", lambda x: x)
_unary("negate", torch.neg, "-x", "-{0}", lambda x: -x)
_unary("abs", torch.abs, "|x|", r"\left|{0}\right|", lambda x: abs(x))
_unary("square", torch.square, "x^2", r"\left({0}\right)^{{2}}", lambda x: x ** 2)
_unary("sqrt", lambda x: torch.sqrt(torch.relu(x)), "sqrt(x) for x > 0, else 0", r"\sqrt{{{0}}}")
_unary("log", safe_log, "log(x) for x > 0, else 0", r"\log\left({0}\right)")
_unary("abslog", lambda x: safe_log(x.abs()), "log|x| for x != 0, else 0", r"\log\left|{0}\right|")
_unary("exp", lambda x: torch.exp(x.clamp(max=EXP_CLAMP)), "exp(min(x, 50))",
       r"e^{{{0}}}")
_unary("invert", safe_invert, "1/x for x != 0, else 0", r"\frac{{1}}{{{0}}}")
_unary("relu", torch.relu, "max(x, 0)", r"\max\left({0}, 0\right)")
_unary("sign", torch.sign, "sign(x)", r"\operatorname{{sign}}\left({0}\right)")
_unary("sigmoid", torch.sigmoid, "1/(1+exp(-x))", r"\sigma\left({0}\right)")
_unary("softmax", _flat_apply(lambda v: torch.softmax(v, 0)), "softmax over all elements",
       r"\operatorname{{softmax}}\left({0}\right)")
_unary("logsoftmax", _flat_apply(lambda v: torch.log_softmax(v, 0)),
       "log-softmax over all elements", r"\log\operatorname{{softmax}}\left({0}\right)")
_unary("normalize", _flat_apply(_normalize), "(x - mean) / std over all elements (0 if constant)",
       r"\operatorname{{norm}}\left({0}\right)")
_unary("minmax", _flat_apply(_minmax), "(x - min) / (max - min) over all elements (0 if constant)",
       r"\operatorname{{minmax}}\left({0}\right)")


def _binary(name, fn, doc, latex, sympy=None, commutative=False):
    register_op(Op(name, "binary", fn, doc, latex, sympy, commutative))


_binary("add", torch.add, "a + b", r"\left({0} + {1}\right)", lambda a, b: a + b, True)
_binary("sub", torch.sub, "a - b", r"\left({0} - {1}\right)", lambda a, b: a - b)
_binary("mul", torch.mul, "a * b", r"{0} \cdot {1}", lambda a, b: a * b, True)
_binary("div", safe_div, "a / b where b != 0, else 0", r"\frac{{{0}}}{{{1}}}", lambda a, b: a / b)
register_op(Op("matmul", "matmul", lambda a, b: rows(a) @ rows(b).T,
               "rows(a) @ rows(b)^T, each layer flattened to (dim0, rest)",
               r"{0} {1}^{{\top}}"))
register_op(Op("spatial_sum", "reshape", _sum_spatial, "sum over dims >= 2 (H, W or kernel)",
               r"\textstyle\sum_{{hw}} {0}"))
register_op(Op("batch_mean", "reshape", _mean_batch, "mean over dim 0 (batch / out-channel)",
               r"\operatorname{{mean}}_{{n}} {0}"))


def _reduce_op(name, fn, doc, latex):
    register_op(Op(name, "reduce", fn, doc, latex))


_reduce_op("sum", torch.sum, "sum of all elements of a layer", r"\textstyle\sum {0}")
_reduce_op("mean", torch.mean, "mean of all elements", r"\operatorname{{mean}}\left({0}\right)")
_reduce_op("l1", lambda x: x.abs().sum(), "sum of |x|", r"\left\|{0}\right\|_{{1}}")
_reduce_op("l2", torch.linalg.vector_norm, "Frobenius / L2 norm", r"\left\|{0}\right\|_{{2}}")
_reduce_op("std", _std, "population standard deviation", r"\operatorname{{std}}\left({0}\right)")
_reduce_op("max", torch.max, "largest element", r"\max\left({0}\right)")
_reduce_op("min", torch.min, "smallest element", r"\min\left({0}\right)")
register_op(Op("layer_sum", "aggregate", torch.sum, "sum over layers", r"\sum_{{l}} {0}"))
register_op(Op("layer_mean", "aggregate", torch.mean, "mean over layers",
               r"\frac{{1}}{{L}}\sum_{{l}} {0}"))


def sympy_function(op: Op) -> Callable:
    """The exact sympy form, or an undefined function named after the op."""
    return op.sympy if op.sympy is not None else _sym(op.name)
