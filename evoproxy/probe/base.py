"""The probe's core: the pass registry, ``collect``, and the layer recorder passes share.

``collect(model, x, y, names)`` computes exactly the statistics named (and nothing else) and
returns them as evaluator values. Per-layer statistics follow the order in which Conv2d and
Linear layers first run in the forward pass, so every per-layer list is aligned by
construction. Each pass works on a deep copy, so passes are independent of each other and of
their order, and the caller's model (its weights, BN buffers and grads) is never touched.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
from torch import nn

from evoproxy.registry import Registry
from evoproxy.lang.stats import STATS

LAYER_TYPES = (nn.Conv2d, nn.Linear)
PassFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, frozenset], dict]


@dataclass(frozen=True)
class ProbePass:
    """One pass of the probe: ``fn(model, x, y, names) -> {statistic: value}`` for the statistics
    named (those of :data:`evoproxy.lang.stats.STATS` whose ``pass_name`` is this pass)."""

    name: str
    fn: PassFn


PASSES: Registry[ProbePass] = Registry("probe pass")


def register_pass(name: str) -> Callable[[PassFn], PassFn]:
    """Decorator: register ``fn`` as the probe pass ``name`` (a duplicate name is an error)."""
    def deco(fn: PassFn) -> PassFn:
        PASSES.add(name, ProbePass(name, fn))
        return fn
    return deco


def collect(model: nn.Module, x: torch.Tensor, y: torch.Tensor, names: Iterable[str],
            seed: int = 0) -> dict:
    """Compute the named statistics of ``model`` on the batch ``(x, y)``.

    A pass that fails numerically leaves its statistics out; programs needing them score NaN.
    """
    groups: dict[str, set[str]] = {}
    for name in names:
        groups.setdefault(STATS.get(name).pass_name, set()).add(name)
    out: dict = {}
    for pass_name, wanted in groups.items():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                got = PASSES.get(pass_name).fn(model, x, y, frozenset(wanted))
                out.update({k: v for k, v in got.items() if k in wanted})
            except (RuntimeError, ValueError):
                pass  # programs that need these statistics score NaN and are screened
    return out


class LayerRecorder:
    """Forward hooks on Conv2d/Linear layers: first-call order, outputs and output grads."""

    def __init__(self, net: nn.Module, keep_act: bool = False, keep_act_grad: bool = False):
        self.layers: list[nn.Module] = []
        self.acts: dict[nn.Module, torch.Tensor] = {}
        self.out_numel: dict[nn.Module, int] = {}  # per input image
        self.act_grads: dict[nn.Module, torch.Tensor] = {}
        self.keep_act, self.keep_act_grad = keep_act, keep_act_grad
        self.handles = [m.register_forward_hook(self._hook) for m in net.modules()
                        if isinstance(m, LAYER_TYPES)]

    def _hook(self, module: nn.Module, inputs, output: torch.Tensor) -> None:
        if module in self.layers:
            if self.keep_act or self.keep_act_grad:
                raise ValueError(f"layer {type(module).__name__} runs twice in one forward pass: "
                                 "its activation statistics would be ambiguous")
        else:
            self.layers.append(module)
            self.out_numel[module] = output[0].numel()
        if self.keep_act:  # a copy: a following in-place op (ReLU(inplace=True)) would overwrite it
            self.acts[module] = output.detach().clone()
        if self.keep_act_grad and output.requires_grad:
            output.register_hook(lambda g, m=module: self.act_grads.__setitem__(m, g.detach()))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()

    def weights(self) -> tuple:
        return tuple(m.weight.detach() for m in self.layers)

    def grads(self) -> tuple:
        return tuple(_grad_or_zeros(m.weight) for m in self.layers)


def _grad_or_zeros(w: torch.Tensor) -> torch.Tensor:
    return w.grad.detach() if w.grad is not None else torch.zeros_like(w)


def batch_digest(x: torch.Tensor, y: torch.Tensor) -> str:
    """sha256 of a probe batch: a key for results that depend only on it (and a fixed network)."""
    return hashlib.sha256(x.detach().cpu().numpy().tobytes() + y.detach().cpu().numpy().tobytes()).hexdigest()


def fresh_copy(model: nn.Module, train: bool = True) -> nn.Module:
    net = copy.deepcopy(model)
    net.zero_grad(set_to_none=True)
    return net.train(train)
