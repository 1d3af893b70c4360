"""Probe passes for quantization statistics: bit widths, Q(W), W - Q(W), Hessian trace/eigenvalue.

On a quantized network (:class:`QuantizedNetwork`, e.g. :class:`evoproxy.spaces.quantized.QuantizedNet`) the ``quant`` pass reads each layer's bit widths and
quantized weights; on any other network every layer is float (32 bits, Q(W) = W, error 0), so the
statistics exist for every benchmark. The Hessian passes always differentiate the network at its
*float* weights (HAWQ's setting); for a quantized network that is its float reference, which is
shared by every configuration, so the result is computed once per reference, batch and seed.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from evoproxy.probe.base import LayerRecorder, batch_digest, fresh_copy, register_pass
from evoproxy.probe.layers import layer_weight, logits_of

FLOAT_BITS = 32
HUTCHINSON_SAMPLES = 16
POWER_ITERATIONS = 20
_QE_STD = {2: 1.00892, 3: 1.04080, 4: 1.04083}
"""Std of a unit Gaussian after b-bit quantization, the table of QE-score (EMQ's bit_lut; >= 4 bits: the 4-bit value)."""
_MEMO: dict[tuple, torch.Tensor] = {}
_MEMO_SIZE = 16


@runtime_checkable
class QuantizedLayer(Protocol):
    """A Conv2d/Linear that computes with quantized weights ``qweight()`` and inputs."""

    bits: int
    act_bits: int

    def qweight(self) -> torch.Tensor: ...


@runtime_checkable
class QuantizedNetwork(Protocol):
    """A quantized copy of a trained float network: ``float_copy()`` gives the float network and
    ``reference_key`` names it (configurations of one reference share their float Hessians)."""

    reference_key: str

    def float_copy(self) -> nn.Module: ...


@register_pass("quant")
def _quant_pass(model, x, y, names):
    net = fresh_copy(model, train=False)
    rec = LayerRecorder(net)
    with torch.no_grad():
        net(x[:1])
    rec.remove()

    def per_layer(fn_q, fn_float) -> tuple:
        return rec.per_layer(lambda m: fn_q(m) if isinstance(m, QuantizedLayer) else fn_float(m))

    def bits_of(attr: str) -> torch.Tensor:
        vals = per_layer(lambda m: float(getattr(m, attr)), lambda m: float(FLOAT_BITS))
        return torch.tensor(vals, dtype=torch.float64, device=x.device)

    def quant_std(m: nn.Module) -> float:
        if not isinstance(m, QuantizedLayer):
            return 1.0
        return _QE_STD.get(m.bits, _QE_STD[4]) * _QE_STD.get(m.act_bits, _QE_STD[4])

    qweight = lambda m: m.qweight().detach() if isinstance(m, QuantizedLayer) else layer_weight(m).detach()
    table = {"bits": lambda: bits_of("bits"), "act_bits": lambda: bits_of("act_bits"),
             "qweight": lambda: rec.per_layer(qweight),
             "quant_std": lambda: torch.tensor(rec.per_layer(quant_std), dtype=torch.float64, device=x.device),
             "qerror": lambda: rec.per_layer(lambda m: layer_weight(m).detach() - qweight(m))}
    return {n: table[n]() for n in names}


def _float_net(model: nn.Module) -> nn.Module:
    """The network at its float weights: a quantized net's float copy, else a private copy."""
    return model.float_copy() if isinstance(model, QuantizedNetwork) else fresh_copy(model)


def _memo_key(model: nn.Module, x: torch.Tensor, y: torch.Tensor, what: str) -> tuple | None:
    if not isinstance(model, QuantizedNetwork):
        return None
    return model.reference_key, batch_digest(x, y), torch.initial_seed(), what


def _memoised(model, x, y, what: str, compute) -> torch.Tensor:
    key = _memo_key(model, x, y, what)
    if key is not None and key in _MEMO:
        return _MEMO[key].clone()
    value = compute()
    if key is not None:
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = value.clone()
    return value


def _loss_and_recorder(model, x, y) -> tuple[torch.Tensor, LayerRecorder]:
    """The loss at the float weights, and the recorder of the forward pass that gave it."""
    net = _float_net(model)
    rec = LayerRecorder(net)
    loss = F.cross_entropy(logits_of(net(x)), y)
    rec.remove()
    return loss, rec


def _per_occurrence(rec: LayerRecorder, values: list[float]) -> torch.Tensor:
    """One value per measured module (``rec.params()`` order), listed at each of its occurrences."""
    return torch.tensor(rec.per_layer(dict(zip(rec.entries, values)).get), dtype=torch.float64)


@register_pass("hessian")
def _hessian_pass(model, x, y, names):
    """Hutchinson estimate of each layer's Hessian trace, E[v^T H_ll v] over Rademacher v on that
    layer alone (a vector over all layers would add the cross-layer terms as noise)."""
    def compute() -> torch.Tensor:
        loss, rec = _loss_and_recorder(model, x, y)
        weights = rec.params()
        grads = torch.autograd.grad(loss, weights, create_graph=True)
        total = torch.zeros(len(weights), dtype=torch.float64)
        for _ in range(HUTCHINSON_SAMPLES):
            for i, w in enumerate(weights):
                v = torch.randint_like(w, 2) * 2 - 1
                hv = torch.autograd.grad(grads[i], w, grad_outputs=v, retain_graph=True)[0]
                total[i] += float((hv * v).sum())
        return _per_occurrence(rec, (total / HUTCHINSON_SAMPLES).tolist())
    return {"hess_trace": _memoised(model, x, y, "trace", compute).to(x.device)}


@register_pass("hess_eig")
def _hess_eig_pass(model, x, y, names):
    """Top eigenvalue of each layer's Hessian block by power iteration (HAWQ-v1)."""
    def compute() -> torch.Tensor:
        loss, rec = _loss_and_recorder(model, x, y)
        weights = rec.params()
        grads = torch.autograd.grad(loss, weights, create_graph=True)
        eigs = []
        for i, w in enumerate(weights):
            v = torch.randn_like(w)
            v /= v.norm()
            lam = torch.zeros(())
            for _ in range(POWER_ITERATIONS):
                hv = torch.autograd.grad(grads[i], w, grad_outputs=v, retain_graph=True)[0]
                lam = (hv * v).sum()
                norm = hv.norm()
                if norm == 0:
                    break
                v = hv / norm
            eigs.append(float(lam))
        return _per_occurrence(rec, eigs)
    return {"hess_eig": _memoised(model, x, y, "eig", compute).to(x.device)}


@register_pass("ompq")
def _ompq_pass(model, x, y, names):
    """OMPQ importance: theta_l = exp(-sum_{j != l} CKA(K_l, K_j)), linear CKA of layer-output
    kernels at the float weights (Ma et al. 2023)."""
    def compute() -> torch.Tensor:
        net = _float_net(model).eval()
        rec = LayerRecorder(net, keep_act=True)
        with torch.no_grad():
            net(x)
        rec.remove()
        n = x.shape[0]
        center = torch.eye(n, dtype=torch.float64) - 1.0 / n
        kernels = []
        for a in rec.acts:
            f = a.reshape(n, -1).double().cpu()
            k = center @ (f @ f.T) @ center
            kernels.append(k / k.norm().clamp_min(1e-300))
        flat = torch.stack([k.reshape(-1) for k in kernels])
        cka = flat @ flat.T
        gamma = cka.sum(dim=1) - cka.diagonal()
        return torch.exp(-gamma)
    return {"orthogonality": _memoised(model, x, y, "ompq", compute).to(x.device)}
