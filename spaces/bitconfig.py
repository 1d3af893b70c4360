"""Per-layer weight bit-width configurations for mixed-precision quantization.

A :class:`BitConfig` gives one weight bit width per quantizable layer (every
Conv2d/Linear, in forward order) plus an activation bit width. ``act_bits`` is
recorded for BOPs only so far: :func:`quantized_copy` fake-quantizes weights,
not activations.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from evoproxy.errors import EvoproxyError

InputShape = tuple[int, ...]
DEFAULT_INPUT: InputShape = (1, 3, 32, 32)
MIN_BITS, MAX_BITS = 2, 32
_CANON = re.compile(r"w(\d+(?:-\d+)*)\|a(\d+)")


def _trace(model: nn.Module, input_shape: InputShape) -> list[tuple[str, nn.Module, int]]:
    """Run one no-grad eval forward; return (name, layer, MACs) per Conv2d/Linear in call order."""
    names = {m: n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    seen: list[tuple[str, nn.Module, int]] = []

    def hook(m: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        if all(m is not s[1] for s in seen):
            per_out = m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.in_features
            seen.append((names[m], m, int(out[0].numel()) * per_out))

    handles = [m.register_forward_hook(hook) for m in names]
    modes = {m: m.training for m in model.modules()}
    p = next(model.parameters(), None)
    x = torch.zeros(input_shape, dtype=p.dtype if p is not None else None,
                    device=p.device if p is not None else None)
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    return seen


def quantizable_layers(model: nn.Module, input_shape: InputShape = DEFAULT_INPUT) -> list[tuple[str, nn.Module]]:
    """The Conv2d/Linear layers that run in a forward pass, in forward order."""
    return [(n, m) for n, m, _ in _trace(model, input_shape)]


@dataclass(frozen=True)
class BitConfig:
    """Weight bits per quantizable layer (forward order) and activation bits."""

    bits: tuple[int, ...]
    act_bits: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "bits", tuple(int(b) for b in self.bits))
        if not self.bits:
            raise EvoproxyError("BitConfig has no layers; give one weight bit width per quantizable layer")
        for b in (*self.bits, self.act_bits):
            if not MIN_BITS <= b <= MAX_BITS:
                raise EvoproxyError(f"bit width {b} outside {MIN_BITS}..{MAX_BITS}; use e.g. 2, 3, 4 or 8")

    @property
    def canonical(self) -> str:
        """Text form ``w8-4-2-...-8|a8``; :meth:`parse` reads it back."""
        return "w" + "-".join(map(str, self.bits)) + f"|a{self.act_bits}"

    @classmethod
    def parse(cls, text: str) -> BitConfig:
        """Read a canonical string like ``w8-4-2-8|a8``."""
        m = _CANON.fullmatch(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise EvoproxyError(f"bad bit config {text!r}; expected a string like 'w8-4-2-8|a8'")
        return cls(tuple(int(b) for b in m.group(1).split("-")), int(m.group(2)))

    def __str__(self) -> str:
        return self.canonical


class BitSpace:
    """Bit-width configurations over one model's quantizable layers.

    The first and last layer are fixed to ``first_last_bits`` (``None``: free);
    the others take a value from ``choices``.
    """

    def __init__(self, model: nn.Module, choices: Sequence[int] = (2, 3, 4, 8),
                 first_last_bits: int | None = 8, input_shape: InputShape = DEFAULT_INPUT) -> None:
        self.choices = tuple(sorted(set(int(c) for c in choices)))
        if not self.choices or any(not MIN_BITS <= c <= MAX_BITS for c in self.choices):
            raise EvoproxyError(f"bit choices {choices!r} must be non-empty, each in {MIN_BITS}..{MAX_BITS}")
        self.first_last_bits = first_last_bits
        traced = _trace(model, input_shape)
        if not traced:
            raise EvoproxyError("model has no Conv2d/Linear layer that runs in forward; nothing to quantize")
        self.layer_names = tuple(n for n, _, _ in traced)
        self.numels = tuple(m.weight.numel() for _, m, _ in traced)
        self.macs = tuple(mac for _, _, mac in traced)

    @property
    def n_layers(self) -> int:
        """Number of quantizable layers."""
        return len(self.layer_names)

    def fixed_bits(self, i: int) -> int | None:
        """The bit width layer ``i`` is pinned to, or None when it is free."""
        if self.first_last_bits is not None and i in (0, self.n_layers - 1):
            return self.first_last_bits
        return None

    def sample(self, rng: np.random.Generator, act_bits: int = 8) -> BitConfig:
        """A config with free layers drawn uniformly from ``choices``."""
        draws = rng.choice(self.choices, size=self.n_layers)
        bits = tuple(self.fixed_bits(i) or int(b) for i, b in enumerate(draws))
        return BitConfig(bits, act_bits)

    def uniform(self, b: int, act_bits: int = 8) -> BitConfig:
        """All free layers at ``b`` bits (first/last stay at ``first_last_bits``)."""
        if b not in self.choices:
            raise EvoproxyError(f"bit width {b} not in choices {self.choices}; pick one of them")
        return BitConfig(tuple(self.fixed_bits(i) or b for i in range(self.n_layers)), act_bits)

    def validate(self, cfg: BitConfig) -> None:
        """Raise EvoproxyError unless ``cfg`` fits this space."""
        if len(cfg.bits) != self.n_layers:
            raise EvoproxyError(f"bit config has {len(cfg.bits)} layers, model has {self.n_layers}; "
                                "give one bit width per quantizable layer")
        for i, b in enumerate(cfg.bits):
            want = self.fixed_bits(i)
            if want is not None and b != want:
                raise EvoproxyError(f"layer {i} ({self.layer_names[i]}) must be {want} bits, got {b}; "
                                    "first and last layers are fixed")
            if want is None and b not in self.choices:
                raise EvoproxyError(f"layer {i} ({self.layer_names[i]}) has {b} bits, not in {self.choices}")

    def size_bits(self, cfg: BitConfig) -> int:
        """Total weight storage in bits: sum of weight numel x bits."""
        self.validate(cfg)
        return sum(n * b for n, b in zip(self.numels, cfg.bits))

    def size_mb(self, cfg: BitConfig) -> float:
        """Weight storage in MiB (``size_bits / 8 / 2**20``)."""
        return self.size_bits(cfg) / 8 / 2**20

    def bops(self, cfg: BitConfig) -> float:
        """Bit operations: sum of MACs x weight bits x activation bits (one input)."""
        self.validate(cfg)
        return float(sum(m * b * cfg.act_bits for m, b in zip(self.macs, cfg.bits)))


def quantize_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Symmetric uniform per-output-channel (dim 0) fake quantization; returns a new tensor."""
    if not MIN_BITS <= bits <= MAX_BITS:
        raise EvoproxyError(f"bit width {bits} outside {MIN_BITS}..{MAX_BITS}; use e.g. 2, 3, 4 or 8")
    qmax = 2 ** (bits - 1) - 1
    with torch.no_grad():
        flat = w.detach().reshape(w.shape[0], -1)
        scale = flat.abs().amax(dim=1, keepdim=True) / qmax
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        q = torch.clamp(torch.round(flat / scale), -qmax, qmax) * scale
    return q.reshape(w.shape).clone()


def quantized_copy(model: nn.Module, cfg: BitConfig, input_shape: InputShape = DEFAULT_INPUT) -> nn.Module:
    """Deep copy of ``model`` with each quantizable layer's weight fake-quantized per ``cfg``.

    Only weights are quantized; ``cfg.act_bits`` is not applied. ``model`` is untouched.
    """
    names = [n for n, _ in quantizable_layers(model, input_shape)]
    if len(cfg.bits) != len(names):
        raise EvoproxyError(f"bit config has {len(cfg.bits)} layers, model has {len(names)}; "
                            "give one bit width per quantizable layer")
    clone = copy.deepcopy(model)
    modules = dict(clone.named_modules())
    with torch.no_grad():
        for name, b in zip(names, cfg.bits):
            weight = modules[name].weight
            weight.copy_(quantize_weight(weight, b))
    return clone
