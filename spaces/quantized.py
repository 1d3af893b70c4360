"""Post-training fake quantization of a trained network for one :class:`BitConfig`.

:func:`quantize_model` returns a :class:`QuantizedNet`: a deep copy whose Conv2d/Linear
layers compute with quantized weights (symmetric per-channel, clipping range chosen per
channel to minimise the squared error) and quantized inputs (``act_bits``, per-tensor range
calibrated on training images; the first layer's input, the image, stays float). The float
weights stay the parameters: forward computes with ``Q(W)`` and back-propagates to ``W`` unchanged (straight-through), so
``grad`` of a quantized network is the gradient at its quantized weights and ``W - Q(W)`` is
its quantization error. Optionally, BatchNorm statistics are re-estimated on the calibration images.

The caller's model is never modified. A ``QuantizedNet`` always runs BatchNorm on its running
statistics (``train()`` does not switch its layers), as a deployed quantized network does.
"""
from __future__ import annotations

import copy
import hashlib
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.bitconfig import MAX_BITS, BitConfig, quantizable_layers

CALIBRATION_FREE = frozenset({"weight", "numel", "fan_in", "bits", "act_bits", "qweight", "qerror",
                              "quant_std", "hess_trace", "hess_eig", "orthogonality", "params"})
"""Statistics that do not depend on activation calibration (weight quantization does not; the Hessian is
taken at the float weights): bit-identical on a network quantized without it."""
CLIP_GRID = torch.linspace(0.3, 1.0, 15)
"""Fractions of a channel's max |w| tried as its clipping range (the best in squared error wins)."""


def quantize_weight_mse(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel symmetric quantization with the squared-error-optimal clip; a new tensor."""
    if bits >= MAX_BITS:
        return w.detach().clone()
    qmax = 2 ** (bits - 1) - 1
    with torch.no_grad():
        flat = w.detach().reshape(w.shape[0], 1, -1)
        top = flat.abs().amax(dim=2, keepdim=True)
        scale = (top * CLIP_GRID.to(w).view(1, -1, 1) / qmax).clamp_min(torch.finfo(w.dtype).tiny)
        q = torch.clamp(torch.round(flat / scale), -qmax, qmax) * scale      # (C, grid, n)
        best = (q - flat).square().sum(dim=2).argmin(dim=1)                  # (C,)
        out = q[torch.arange(w.shape[0]), best]
    return out.reshape(w.shape).clone()


def _fake_quant_act(x: torch.Tensor, scale: float, bits: int, signed: bool) -> torch.Tensor:
    """Uniform fake quantization of a new tensor; straight-through gradient when ``x`` needs one."""
    lo, hi = (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    with torch.no_grad():
        q = torch.round(x / scale).clamp_(lo, hi).mul_(scale)
    return _straight_through(q, x)


def _straight_through(q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Exactly ``q`` in value, with the gradient of ``x`` (identity) when ``x`` needs one."""
    return q + (x - x.detach()) if x.requires_grad else q


class _QuantMixin:
    """Weight/activation fake quantization for a Conv2d or Linear subclass."""

    bits: int
    act_bits: int

    def _init_quant(self, bits: int, act_bits: int) -> None:
        self.bits, self.act_bits = int(bits), int(act_bits)
        self.register_buffer("act_scale", torch.zeros(()))   # 0: input not quantized
        self.register_buffer("act_signed", torch.zeros((), dtype=torch.bool))
        self.observe: Optional[list] = None                   # calibration: collects max |x|, min x

    def qweight(self) -> torch.Tensor:
        """Q(W); cached while the weight tensor is unchanged (same storage, dtype and version)."""
        w = self.weight
        key = (w.data_ptr(), w.dtype, 0 if w.is_inference() else w._version, self.bits)
        if getattr(self, "_qcache", (None,))[0] != key:
            self._qcache = (key, quantize_weight_mse(w, self.bits))
        return self._qcache[1]

    def _inputs_weight(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.observe is not None:
            self.observe.append((x.detach().abs().max(), x.detach().min()))
        if self.act_scale > 0:
            x = _fake_quant_act(x, float(self.act_scale), self.act_bits, bool(self.act_signed))
        return x, _straight_through(self.qweight(), self.weight)


class QConv2d(_QuantMixin, nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, w = self._inputs_weight(x)
        return self._conv_forward(x, w, self.bias)


class QLinear(_QuantMixin, nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, w = self._inputs_weight(x)
        return F.linear(x, w, self.bias)


def _swap(layer: nn.Module, bits: int, act_bits: int) -> nn.Module:
    """The same layer object, now a QConv2d / QLinear (``net`` is already a private copy)."""
    layer.__class__ = QConv2d if isinstance(layer, nn.Conv2d) else QLinear
    layer._init_quant(bits, act_bits)
    return layer


class QuantizedNet(nn.Module):
    """A fake-quantized copy of a trained network; see the module docstring."""

    def __init__(self, net: nn.Module, cfg: BitConfig, reference_key: str) -> None:
        super().__init__()
        self.net = net.eval()
        self.cfg = cfg
        self.reference_key = reference_key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def train(self, mode: bool = True) -> "QuantizedNet":
        self.training = mode   # the layers stay in eval mode: BN uses its (re-estimated) statistics
        return self

    def qlayers(self) -> list[_QuantMixin]:
        return [m for m in self.net.modules() if isinstance(m, _QuantMixin)]

    def float_copy(self) -> nn.Module:
        """A float network with these float weights and BN statistics (no quantization)."""
        net = copy.deepcopy(self.net)
        for name, m in list(net.named_modules()):
            if isinstance(m, _QuantMixin):
                m.__class__ = nn.Conv2d if isinstance(m, QConv2d) else nn.Linear
                for b in ("act_scale", "act_signed"):
                    del m._buffers[b]
                del m.observe, m.bits, m.act_bits
                m.__dict__.pop("_qcache", None)
        return net.eval()


def state_key(model: nn.Module) -> str:
    """A short sha256 of a model's floating-point state (identifies a trained reference)."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def quantize_model(model: nn.Module, cfg: BitConfig, calib_x: Optional[torch.Tensor] = None,
                   bn_reestimate: bool = False, reference_key: Optional[str] = None) -> QuantizedNet:
    """PTQ of ``model`` per ``cfg``: quantized layers, activation ranges (and, with ``bn_reestimate``,
    BN statistics) calibrated on ``calib_x`` (normalised images; without it activations stay float).
    """
    names = [n for n, _ in quantizable_layers(model)]
    if len(cfg.bits) != len(names):
        raise EvoproxyError(f"bit config has {len(cfg.bits)} layers, model has {len(names)}; "
                            "give one bit width per quantizable layer")
    net = copy.deepcopy(model).eval()
    for i, (name, bits) in enumerate(zip(names, cfg.bits)):
        parent_name, _, attr = name.rpartition(".")
        parent = net.get_submodule(parent_name)
        setattr(parent, attr, _swap(getattr(parent, attr), bits, cfg.act_bits))
    qnet = QuantizedNet(net, cfg, reference_key or state_key(model))
    if calib_x is not None:
        with torch.no_grad():
            if bn_reestimate:   # first, so the activation ranges see the final BN statistics
                _reestimate_bn(qnet.net, calib_x)
            _calibrate_acts(qnet, calib_x, first=net.get_submodule(names[0]))
    return qnet


def _calibrate_acts(qnet: QuantizedNet, x: torch.Tensor, first: nn.Module, batch: int = 256) -> None:
    layers = [m for m in qnet.qlayers() if m is not first]
    for m in layers:
        m.observe = []
    try:
        for s in range(0, len(x), batch):
            qnet.net(x[s:s + batch])
    finally:
        seen = [(m, m.observe) for m in layers]
        for m in layers:
            m.observe = None
    for m, obs in seen:
        if not obs:
            continue
        top = torch.stack([o[0] for o in obs]).max()
        signed = bool(torch.stack([o[1] for o in obs]).min() < 0)
        levels = 2 ** (m.act_bits - 1) - 1 if signed else 2 ** m.act_bits - 1
        m.act_scale.fill_(float(top) / levels if top > 0 else 1.0)
        m.act_signed.fill_(signed)


def _reestimate_bn(net: nn.Module, x: torch.Tensor, batch: int = 256) -> None:
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None          # cumulative average over the calibration batches
        m.train()
    try:
        for s in range(0, len(x), batch):
            net(x[s:s + batch])
    finally:
        for m, momentum in zip(bns, momenta):
            m.momentum = momentum
            m.eval()
