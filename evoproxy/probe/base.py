"""The probe's core: the pass registry, ``collect``, and the layer recorder passes share.

``collect(model, x, y, names)`` computes exactly the statistics named (and nothing else) and
returns them as evaluator values. Per-layer statistics follow the order in which measured layers
(:mod:`.layers`: convolutions, Linear, Embedding, attention projections) first run in the forward
pass, so every per-layer list is aligned by construction. Each pass works on a deep copy, so passes are independent of each other and of
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
from evoproxy.errors import EvoproxyError
from evoproxy.lang.stats import STATS
from evoproxy.probe.layers import attention_entries, layer_weight, measured_modules
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
            seed: int = 0, strict: bool = False) -> dict:
    """Compute the named statistics of ``model`` on the batch ``(x, y)``.

    A pass that fails leaves its statistics out, so programs needing them score NaN and are
    screened; with ``strict`` (a user's own network) it raises one line saying why instead.
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
            except (RuntimeError, ValueError) as e:
                if strict:
                    raise EvoproxyError(f"the {pass_name} pass (statistics {', '.join(sorted(wanted))}) "
                                        f"fails on this network: {str(e).splitlines()[0][:200]}") from None
    return out


class LayerRecorder:
    """Forward hooks on the measured layers: first-call order, outputs and output grads.

    ``layers`` holds one entry per weight matrix (an attention block gives two, see
    :mod:`.layers`); :func:`~evoproxy.probe.layers.layer_weight` gives an entry's weight."""

    def __init__(self, net: nn.Module, keep_act: bool = False, keep_act_grad: bool = False):
        self.layers: list = []
        self.acts: dict = {}
        self.out_numel: dict = {}  # per input image, first call
        self.out_calls: dict = {}  # per input image, summed over every call
        self.act_grads: dict = {}
        self.keep_act, self.keep_act_grad = keep_act, keep_act_grad
        self.handles = [m.register_forward_hook(self._hook, with_kwargs=True) for m in measured_modules(net)]

    def _hook(self, module: nn.Module, args, kwargs, output) -> None:
        if isinstance(module, nn.MultiheadAttention):
            if self.keep_act_grad:
                raise ValueError("act_grad is not observable inside a MultiheadAttention block "
                                 "(its projections run functionally)")
            qkv = list(args[:3]) + [kwargs[k] for k in ("query", "key", "value")[len(args[:3]):]]
            entries = attention_entries(module, qkv, output)
        else:
            entries = [(module, output)]
        for entry, out in entries:
            self._record(entry, out)

    def _record(self, entry, output: torch.Tensor) -> None:
        if entry in self.layers:
            if self.keep_act or self.keep_act_grad:
                raise ValueError(f"layer {type(entry).__name__} runs twice in one forward pass: "
                                 "its activation statistics would be ambiguous")
        else:
            self.layers.append(entry)
            self.out_numel[entry] = output[0].numel()
        self.out_calls[entry] = self.out_calls.get(entry, 0) + output[0].numel()
        if self.keep_act:  # a copy: a following in-place op (ReLU(inplace=True)) would overwrite it
            self.acts[entry] = output.detach().clone()
        if self.keep_act_grad and output.requires_grad:
            output.register_hook(lambda g, m=entry: self.act_grads.__setitem__(m, g.detach()))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()

    def params(self) -> list[torch.Tensor]:
        """The live weight parameters of the layers, in order."""
        return [layer_weight(m) for m in self.layers]

    def weights(self) -> tuple:
        return tuple(w.detach() for w in self.params())

    def grads(self) -> tuple:
        return tuple(_grad_or_zeros(w) for w in self.params())


def _grad_or_zeros(w: torch.Tensor) -> torch.Tensor:
    return w.grad.detach() if w.grad is not None else torch.zeros_like(w)


def batch_digest(x: torch.Tensor, y: torch.Tensor) -> str:
    """sha256 of a probe batch: a key for results that depend only on it (and a fixed network)."""
    return hashlib.sha256(x.detach().cpu().numpy().tobytes() + y.detach().cpu().numpy().tobytes()).hexdigest()


def fresh_copy(model: nn.Module, train: bool = True) -> nn.Module:
    net = copy.deepcopy(model)
    net.zero_grad(set_to_none=True)
    return net.train(train)
