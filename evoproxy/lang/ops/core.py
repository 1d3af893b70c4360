"""The op registry: every function a proxy program may call, with its type rule and exports.

Each op belongs to a family, whose type rule is in :mod:`evoproxy.lang.typerules`.

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
from evoproxy.lang.typerules import FAMILIES, RULES
from evoproxy.lang.types import VType

EXP_CLAMP = 50.0


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
    elementwise: bool = False  # value by value: the same fn serves any shape, a layer vector included
    batched: Optional[Callable[..., torch.Tensor]] = None
    """``fn`` over a stack of layers (dim 0), one call for many (:mod:`evoproxy.lang.packed`); an
    aggregate's takes ``(vector, network of each entry, networks)``. None: run layer by layer."""

    @property
    def arity(self) -> int:
        return 2 if self.family in ("binary", "matmul", "distance") else 1

    @property
    def batch_fn(self) -> Optional[Callable[..., torch.Tensor]]:
        return self.batched if self.batched is not None else (self.fn if self.elementwise else None)

    def result_type(self, *args: VType) -> VType:
        return RULES[self.family](self, *args)


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

def zero_where_undefined(value: torch.Tensor, defined: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``value`` where the mask ``defined()`` holds, else 0. At a point outside its domain (log of
    x <= 0, division by 0) ``value`` is inf or NaN, so where its sum is finite no point is outside and
    the mask, a pass as slow as the op itself, is skipped (the same result, bit for bit)."""
    if torch.isfinite(value.sum()):
        return value
    return torch.where(defined(), value, 0)  # the NaN / inf of undefined points is never selected


def safe_log(x: torch.Tensor) -> torch.Tensor:
    return zero_where_undefined(torch.log(x), lambda: x > 0)


def safe_invert(x: torch.Tensor) -> torch.Tensor:
    return zero_where_undefined(torch.reciprocal(x), lambda: x != 0)


def safe_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return zero_where_undefined(a / b, lambda: b != 0)


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


def _flat_batched(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``fn`` of a row-wise op (over dim 1 of a 2-D tensor) applied to each layer of a stack."""
    def apply(x: torch.Tensor) -> torch.Tensor:
        return fn(x.reshape(x.shape[0], -1)).reshape(x.shape)
    return apply


def _normalize_rows(v: torch.Tensor) -> torch.Tensor:
    std = v.std(dim=1, unbiased=False, keepdim=True) if v.shape[1] > 1 else v.new_zeros(v.shape[0], 1)
    return torch.where(std > 0, (v - v.mean(dim=1, keepdim=True)) / torch.where(std > 0, std, 1), 0)


def _minmax_rows(v: torch.Tensor) -> torch.Tensor:
    lo = v.amin(dim=1, keepdim=True)
    span = v.amax(dim=1, keepdim=True) - lo
    return torch.where(span > 0, (v - lo) / torch.where(span > 0, span, 1), 0)


def _unary(name, fn, doc, latex, sympy=None, batched=None):
    register_op(Op(name, "unary", fn, doc, latex, sympy, elementwise=batched is None, batched=batched))


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
       r"\operatorname{{softmax}}\left({0}\right)", batched=_flat_batched(lambda v: torch.softmax(v, 1)))
_unary("logsoftmax", _flat_apply(lambda v: torch.log_softmax(v, 0)),
       "log-softmax over all elements", r"\log\operatorname{{softmax}}\left({0}\right)",
       batched=_flat_batched(lambda v: torch.log_softmax(v, 1)))
_unary("normalize", _flat_apply(_normalize), "(x - mean) / std over all elements (0 if constant)",
       r"\operatorname{{norm}}\left({0}\right)", batched=_flat_batched(_normalize_rows))
_unary("minmax", _flat_apply(_minmax), "(x - min) / (max - min) over all elements (0 if constant)",
       r"\operatorname{{minmax}}\left({0}\right)", batched=_flat_batched(_minmax_rows))


def _binary(name, fn, doc, latex, sympy=None, commutative=False):
    register_op(Op(name, "binary", fn, doc, latex, sympy, commutative, elementwise=True))


_binary("add", torch.add, "a + b", r"\left({0} + {1}\right)", lambda a, b: a + b, True)
_binary("sub", torch.sub, "a - b", r"\left({0} - {1}\right)", lambda a, b: a - b)
_binary("mul", torch.mul, "a * b", r"{0} \cdot {1}", lambda a, b: a * b, True)
_binary("div", safe_div, "a / b where b != 0, else 0", r"\frac{{{0}}}{{{1}}}",
        lambda a, b: a * 0 if b.is_zero else a / b)  # 0 where evoproxy gives 0 (sympy would say zoo)
def _stacked_rows(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], x.shape[1], -1) if x.dim() > 2 else x.reshape(x.shape[0], 1, -1)


MATMUL_MAX_ENTRIES, MATMUL_MAX_MACS = 1 << 24, 1 << 34
"""Past these (per network: output entries, multiply-adds) a matmul fails and its program scores NaN (screened):
e.g. matmul(block_jac, block_jac) would need GBs and minutes for one network."""


class SizeBoundError(ValueError):
    """An op's result would pass its stated size bound: the program scores NaN (screened)."""


def _bounded_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b^T over the last two dims (a leading dim: networks of a pack)."""
    n, k, inner = a.shape[-2], b.shape[-2], a.shape[-1]
    if n * k > MATMUL_MAX_ENTRIES or n * k * inner > MATMUL_MAX_MACS:
        raise SizeBoundError(f"matmul of {n}x{inner} by {inner}x{k} is over the size bound")
    return a @ b.transpose(-2, -1)


register_op(Op("matmul", "matmul", lambda a, b: _bounded_matmul(rows(a), rows(b)),
               "rows(a) @ rows(b)^T, each layer flattened to (dim0, rest); NaN past 2^24 entries or 2^34 "
               "multiply-adds", r"{0} {1}^{{\top}}",
               batched=lambda a, b: _bounded_matmul(_stacked_rows(a), _stacked_rows(b))))
register_op(Op("spatial_sum", "reshape", _sum_spatial, "sum over dims >= 2 (H, W or kernel)",
               r"\textstyle\sum_{{hw}} {0}",
               batched=lambda x: x.sum(dim=tuple(range(3, x.dim()))) if x.dim() > 3 else x))
register_op(Op("batch_mean", "reshape", _mean_batch, "mean over dim 0 (batch / out-channel)",
               r"\operatorname{{mean}}_{{n}} {0}", batched=lambda x: x.mean(dim=1) if x.dim() > 2 else x))


def _reduce_op(name, fn, doc, latex, rowwise):
    """``rowwise`` reduces dim 1 of a 2-D tensor: the batched form, one number per layer of a stack."""
    register_op(Op(name, "reduce", fn, doc, latex, batched=lambda x: rowwise(x.reshape(x.shape[0], -1))))


def _std_rows(v: torch.Tensor) -> torch.Tensor:
    return v.std(dim=1, unbiased=False) if v.shape[1] > 1 else v.new_zeros(v.shape[0])


_reduce_op("sum", torch.sum, "sum of all elements of a layer", r"\textstyle\sum {0}", lambda v: v.sum(1))
_reduce_op("mean", torch.mean, "mean of all elements", r"\operatorname{{mean}}\left({0}\right)",
           lambda v: v.mean(1))
_reduce_op("l1", lambda x: x.abs().sum(), "sum of |x|", r"\left\|{0}\right\|_{{1}}", lambda v: v.abs().sum(1))
_reduce_op("l2", torch.linalg.vector_norm, "Frobenius / L2 norm", r"\left\|{0}\right\|_{{2}}",
           lambda v: torch.linalg.vector_norm(v, dim=1))
_reduce_op("std", _std, "population standard deviation", r"\operatorname{{std}}\left({0}\right)", _std_rows)
_reduce_op("max", torch.max, "largest element", r"\max\left({0}\right)", lambda v: v.amax(1))
_reduce_op("min", torch.min, "smallest element", r"\min\left({0}\right)", lambda v: v.amin(1))


def _segment_sum(v: torch.Tensor, seg: torch.Tensor, n: int) -> torch.Tensor:
    return v.new_zeros(n).index_add(0, seg, v)


def _segment_mean(v: torch.Tensor, seg: torch.Tensor, n: int) -> torch.Tensor:
    counts = torch.bincount(seg, minlength=n).to(v.dtype)
    return torch.where(counts > 0, _segment_sum(v, seg, n) / counts.clamp(min=1), torch.nan)


register_op(Op("layer_sum", "aggregate", torch.sum, "sum over layers", r"\sum_{{l}} {0}", batched=_segment_sum))
register_op(Op("layer_mean", "aggregate", torch.mean, "mean over layers",
               r"\frac{{1}}{{L}}\sum_{{l}} {0}", batched=_segment_mean))


def sympy_function(op: Op) -> Callable:
    """The exact sympy form, or an undefined function named after the op."""
    return op.sympy if op.sympy is not None else _sym(op.name)
