"""The probe's core: the pass registry, ``collect``, and the layer recorder passes share.

``collect(model, x, y, names)`` computes exactly the statistics named (and nothing else) and
returns them as evaluator values. Per-layer statistics list one *layer occurrence* per call of a
measured layer (:mod:`.layers`: convolutions, Linear, Embedding, attention projections), in forward
order, so every per-layer list is aligned by construction: a module called k times (weight sharing)
is k occurrences, each with its own activation and the module's one weight (see
:class:`LayerRecorder`). Each pass works on a deep copy, so passes are independent of each other and
of their order, and the caller's model (its weights, BN buffers and grads) is never touched.
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
    """Forward hooks on the measured layers: one *occurrence* per call, in forward order.

    ``layers`` holds the entry of each occurrence (an attention block gives two per call, see
    :mod:`.layers`; :func:`~evoproxy.probe.layers.layer_weight` gives an entry's weight), so a module
    called k times in one forward pass appears k times. ``acts``, ``act_grads`` and ``out_numel`` are
    per occurrence: that call's own output. Module-level statistics (weights, grads) are computed once
    per module and listed at each of its occurrences (:meth:`per_layer`). Each forward pass of the
    network starts the record afresh."""

    def __init__(self, net: nn.Module, keep_act: bool = False, keep_act_grad: bool = False):
        self.keep_act, self.keep_act_grad = keep_act, keep_act_grad
        self._start(net, ())
        self.handles = [net.register_forward_pre_hook(self._start)]
        self.handles += [m.register_forward_hook(self._hook, with_kwargs=True) for m in measured_modules(net)]

    def _start(self, net, args) -> None:
        self.layers: list = []
        self.acts: list[torch.Tensor] = []
        self.out_numel: list[int] = []  # per input image
        self.act_grads: list[torch.Tensor] = []

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
        self.layers.append(entry)
        self.out_numel.append(output[0].numel())
        if self.keep_act:  # a copy: a following in-place op (ReLU(inplace=True)) would overwrite it
            self.acts.append(output.detach().clone())
        if self.keep_act_grad:  # zero unless the loss reads this output
            grads, i = self.act_grads, len(self.act_grads)
            grads.append(output.detach().new_zeros(()).expand(output.shape))
            if output.requires_grad:
                output.register_hook(lambda g: grads.__setitem__(i, g.detach()))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()

    @property
    def entries(self) -> list:
        """Each measured module once, in the order it first runs."""
        return list(dict.fromkeys(self.layers))

    def per_layer(self, fn: Callable) -> tuple:
        """``fn(entry)`` once per measured module, listed at each of its occurrences."""
        once = {m: fn(m) for m in self.entries}
        return tuple(once[m] for m in self.layers)

    def params(self) -> list[torch.Tensor]:
        """The live weight parameter of each measured module, once (what to differentiate)."""
        return [layer_weight(m) for m in self.entries]

    def weights(self) -> tuple:
        return self.per_layer(lambda m: layer_weight(m).detach())

    def grads(self) -> tuple:
        return self.per_layer(layer_grad)


def layer_grad(m) -> torch.Tensor:
    """The gradient accumulated on an entry's weight (zeros where none reached it)."""
    w = layer_weight(m)
    return w.grad.detach() if w.grad is not None else torch.zeros_like(w)


def batch_digest(x: torch.Tensor, y: torch.Tensor) -> str:
    """sha256 of a probe batch: a key for results that depend only on it (and a fixed network)."""
    return hashlib.sha256(x.detach().cpu().numpy().tobytes() + y.detach().cpu().numpy().tobytes()).hexdigest()


def fresh_copy(model: nn.Module, train: bool = True) -> nn.Module:
    net = copy.deepcopy(model)
    net.zero_grad(set_to_none=True)
    return net.train(train)
