"""The type rule of each op family (see :mod:`evoproxy.lang.types`): what an op of the family
accepts and what it returns.

* ``unary``     — elementwise, any kind -> same kind (on a ``layer`` value it acts across layers)
* ``binary``    — elementwise; equal kinds (tensors of one domain, layer values of one axis), or a
  ``scalar`` / ``layer`` broadcast against a ``tensor`` (one number per layer), or a one-entry
  ``layer`` (``ONE_ENTRY_AXES``) against any ``layer``
* ``matmul``    — tensor[d] x tensor[d] -> tensor[gram(d)]: each layer flattened to rows
* ``reshape``   — tensor[d] -> tensor[name(d)], e.g. summing out spatial dims; a channel-free
  transform maps teacher and student features ("T", "S") to one domain, name(F)
* ``reduce``    — tensor -> layer (one number per layer tensor)
* ``distance``  — tensor[d] x tensor[d] -> layer: one number per layer pair (teacher-student
  comparisons, :mod:`evoproxy.lang.ops.teacher`)
* ``aggregate`` — layer -> scalar
* ``samples``   — tensor[d|n] or tensor[d|i] -> tensor[d]: reduces the leading sample axis of a per-sample (or
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
"""
from __future__ import annotations

from typing import Protocol

from evoproxy.lang.types import ONE_ENTRY_AXES, LAYER, SCALAR, SCALAR_T, SET, SET_T, TENSOR, TypeCheckError, VType, layers_of, tensor


class Op(Protocol):
    """What a rule reads of an :class:`evoproxy.lang.ops.Op`."""

    name: str
    channel_free: bool

FAMILIES = ("unary", "binary", "matmul", "reshape", "reduce", "distance", "aggregate", "samples", "stack",
            "concat", "across", "rank")
SAMPLE_AXES = ("|n", "|i")
"""Suffixes of domains whose tensors carry a leading sample axis: ``|n`` over the parts of the
probe batch (``grad_split``), ``|i`` over its images (``grad_each``); the two never meet."""
BATCH_FIRST = {"A", "R", "X"}
"""Domains whose tensors are batch-first (layer outputs, ReLU inputs, input gradients): their row
kernels are n x n."""
# Domains that differ only in channel count: a channel-free transform gives both one domain
CHANNEL_FREE = {"T": "F", "S": "F", "TK": "K", "SK": "K"}  # teacher/student pairs


def _same(op: Op, a: VType) -> VType:
    return a


def _broadcast(op: Op, a: VType, b: VType) -> VType:
    if a == b:
        return a
    order = {SCALAR: 0, SET: 1, LAYER: 1, TENSOR: 2}  # a set value meets only scalars and set values
    lo, hi = sorted((a, b), key=lambda t: order[t.kind])
    if lo.kind == SCALAR or (lo.kind == LAYER and hi.kind == TENSOR and layers_of(hi.domain) == lo):
        return hi
    if lo.kind == hi.kind == LAYER and (lo.domain in ONE_ENTRY_AXES or hi.domain in ONE_ENTRY_AXES):
        return lo if hi.domain in ONE_ENTRY_AXES else hi
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
    if a.kind != TENSOR or not a.domain.endswith(SAMPLE_AXES):
        raise TypeCheckError(f"{op.name} reduces the sample axis of a per-sample statistic "
                             f"(e.g. grad_split), got {a}")
    return tensor(a.domain[:-2])


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


RULES = {"unary": _same, "binary": _broadcast, "matmul": _matmul, "reshape": _reshape,
          "reduce": _reduce, "distance": _distance, "aggregate": _aggregate, "samples": _samples,
          "stack": _stack, "concat": _concat, "across": _across, "rank": _rank}
