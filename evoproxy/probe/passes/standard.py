"""The standard probe passes: training statistics, synflow, GraSP, params, FLOPs, NASWOT, Jacov, Zen."""
from __future__ import annotations

import math
from typing import Optional, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from evoproxy.probe.base import LayerRecorder, fresh_copy, register_pass
from evoproxy.probe.layers import LAYER_TYPES, layer_weight, logits_of
from evoproxy.probe.rescale import ReluInputs, rescaled_net


@runtime_checkable
class CountsOwnFlops(Protocol):
    """A network that counts its own multiply-accumulates (e.g. a ViT student's attention matmuls)."""

    def flops(self) -> float:
        """Multiply-accumulates per image, in millions."""
        ...


DATA_FREE = frozenset({"weight", "fan_in", "numel", "macs"})
"""Statistics of the untrained network alone: the layer order needs one forward pass, so they
take it on one image in eval mode (BatchNorm then works on a batch of one), without gradients."""


@register_pass("train")
def _train_pass(model, x, y, names):
    data_free = names <= DATA_FREE
    net = fresh_copy(model, train=not data_free)
    if data_free:
        x = x[:1]
    rec = LayerRecorder(net, keep_act="act" in names, keep_act_grad="act_grad" in names)
    backward = bool(names & {"grad", "act_grad"})
    with torch.set_grad_enabled(backward):
        logits = logits_of(net(x))
        if backward:
            F.cross_entropy(logits, y).backward()
    rec.remove()
    floats = lambda values: torch.tensor([float(v) for v in values], dtype=torch.float64, device=x.device)
    table = {"weight": rec.weights, "grad": rec.grads,
             "fan_in": lambda: floats(map(_fan_in, rec.layers)),
             "numel": lambda: floats(layer_weight(m).numel() for m in rec.layers),
             "macs": lambda: floats(_fan_in(m) * n for m, n in zip(rec.layers, rec.out_numel)),
             "act": lambda: tuple(rec.acts),
             "act_grad": lambda: tuple(rec.act_grads)}
    return {n: table[n]() for n in names}


def _fan_in(m) -> int:
    """Multiply-accumulates per output value (0 for an Embedding: a lookup)."""
    return 0 if isinstance(m, nn.Embedding) else layer_weight(m)[0].numel()


@register_pass("synflow")
def _synflow_pass(model, x, y, names):
    """Gradients of sum(logits) in the float64 |params| network on one all-ones image.

    BN runs in eval mode on its (abs'd) running statistics, which at initialisation is the
    identity up to eps: the synflow paper's data-free setting. Where the gradients would leave
    float64's range (deep networks), the network is rescaled exactly at its cut points
    (:mod:`evoproxy.probe.rescale`) and ``virtual_grad`` is stored divided by ``exp(virtual_grad_scale)``.
    """
    net = fresh_copy(model, train=False).double()
    with torch.no_grad():
        for p in net.state_dict().values():
            if p.is_floating_point():
                p.abs_()
    ones = torch.ones((1,) + tuple(x.shape[1:]), device=x.device,
                      dtype=torch.float64 if x.is_floating_point() else x.dtype)  # token ids: id 1
    grads, scale = _virtual_grads(net, ones), 0.0
    if not _in_range(grads):
        grads, scale = _virtual_grads_rescaled(net, ones, grads)
    return {"virtual_grad": grads, "virtual_grad_scale": _scalar(scale)}


SYNFLOW_MAX = 1e150
"""Largest |virtual_grad| stored as it is; beyond it the rest of the magnitude goes to the scale
(headroom for formulas that multiply statistics)."""


def _top(g: torch.Tensor) -> float:
    return float(g.abs().amax()) if g.numel() else 0.0


def _in_range(grads) -> bool:
    return all(bool(torch.isfinite(g).all()) and _top(g) <= SYNFLOW_MAX for g in grads)


def _virtual_grads(net, ones, run=None):
    rec = LayerRecorder(net)
    logits_of((run or net)(ones)).sum().backward()
    rec.remove()
    return rec.grads()


def _virtual_grads_rescaled(net, ones, plain):
    traced = rescaled_net(net)
    if traced is None:
        return plain, 0.0  # not traceable: the plain (overflowing) values, screened as inf/NaN
    run, scales = traced
    net.zero_grad(set_to_none=True)
    grads = _virtual_grads(net, ones, run)
    top = max((_top(g) for g in grads), default=0.0)
    if not math.isfinite(top) or top <= 0:
        return grads, 0.0
    # true = grads * exp(total); keep the largest at SYNFLOW_MAX, the rest in the scale
    keep = math.log(SYNFLOW_MAX) - math.log(top)
    scale = max(0.0, scales.total() - keep)
    factor = math.exp(scales.total() - scale)
    return tuple(g * factor for g in grads), scale


@register_pass("grasp")
def _grasp_pass(model, x, y, names):
    """GraSP's Hessian-gradient product: weight.grad of z = g_detached . grad(loss, create_graph)."""
    net = fresh_copy(model)
    rec = LayerRecorder(net)
    loss = F.cross_entropy(logits_of(net(x)), y)
    rec.remove()
    weights = rec.params()
    g = torch.autograd.grad(loss, weights, allow_unused=True)
    loss = F.cross_entropy(logits_of(net(x)), y)
    g_f = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z = sum((a.detach() * b).sum() for a, b in zip(g, g_f) if a is not None and b is not None)
    net.zero_grad(set_to_none=True)
    if isinstance(z, torch.Tensor) and z.requires_grad:
        z.backward()
    return {"hess_grad": rec.grads()}


def _scalar(v: float) -> torch.Tensor:
    return torch.tensor(float(v), dtype=torch.float64)


@register_pass("params")
def _params_pass(model, x, y, names):
    return {"params": _scalar(sum(p.numel() for p in model.parameters() if p.requires_grad))}


@register_pass("flops")
def _flops_pass(model, x, y, names):
    """Multiply-accumulates of the measured layers for one image (every call of a shared layer),
    in millions; a network's own ``flops()`` count when it has one (e.g. a ViT student's, which
    adds attention matmuls)."""
    if isinstance(model, CountsOwnFlops):
        return {"flops": _scalar(model.flops())}
    net = fresh_copy(model, train=False)
    rec = LayerRecorder(net)
    with torch.no_grad():
        net(x[:1])
    rec.remove()
    return {"flops": _scalar(sum(_fan_in(m) * n for m, n in zip(rec.layers, rec.out_numel)) / 1e6)}


@register_pass("nwot")
def _nwot_pass(model, x, y, names):
    """NASWOT: log|K| with K = c c^T + (1-c)(1-c)^T summed over the inputs of every ReLU, module
    or functional (``torch.relu(x)`` in a forward counts as ``nn.ReLU`` does)."""
    net = fresh_copy(model)
    n = x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)

    def on_relu_input(t: torch.Tensor) -> None:
        codes = (t.detach().reshape(n, -1) > 0).double()
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)
    with torch.no_grad(), ReluInputs(on_relu_input):
        net(x)
    return {"nwot": _scalar(torch.linalg.slogdet(kernel.cpu())[1])}


@register_pass("jacov")
def _jacov_pass(model, x, y, names):
    """Jacobian covariance: -sum(log(v + k) + 1/(v + k)) over eigenvalues v of corr(dy/dx); the
    Jacobian itself is ``input_grad`` (the jacov proxy's formula works on it)."""
    net = fresh_copy(model)
    xg = x.clone().requires_grad_(True)
    out = logits_of(net(xg))
    out.backward(torch.ones_like(out))
    got = {"input_grad": (xg.grad.detach(),)}
    if "jacov" in names:
        jac = xg.grad.reshape(x.shape[0], -1).double().cpu().numpy()
        with np.errstate(all="ignore"):
            corr = np.corrcoef(jac)
        if not np.isfinite(corr).all():
            return {**got, "jacov": _scalar(float("nan"))}
        v = np.linalg.eigvalsh(corr)
        k = 1e-5
        got["jacov"] = _scalar(-np.sum(np.log(v + k) + 1.0 / (v + k)))
    return got


@register_pass("zen")
def _zen_pass(model, x, y, names, gamma: float = 1e-2):
    """Zen-score on Gaussian input with Gaussian re-initialised weights (Zen-NAS)."""
    net = fresh_copy(model)
    _gaussian_init(net)
    a, b = torch.randn_like(x), torch.randn_like(x)
    feats = [_last_feature_map(net, a), _last_feature_map(net, a + gamma * b)]
    if feats[0] is None:
        return {"zen": _scalar(float("nan"))}
    delta = (feats[0] - feats[1]).abs().sum(dim=(1, 2, 3)).mean()
    bn_log = sum(torch.log(torch.sqrt(m.running_var.mean())) for m in net.modules()
                 if isinstance(m, nn.BatchNorm2d))
    return {"zen": _scalar(torch.log(delta) + bn_log)}


def _last_feature_map(net: nn.Module, x: torch.Tensor) -> Optional[torch.Tensor]:
    """The feature map global pooling reads: the last AdaptiveAvgPool2d's input, else (a network
    that pools with ``mean``, as NB101's) the last 4-D output of a leaf module; None if neither."""
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    seen: list[torch.Tensor] = []
    if pools:
        handles = [pools[-1].register_forward_hook(lambda m, i, o: seen.append(i[0]))]
    else:
        leaves = [m for m in net.modules() if not any(m.children())]
        handles = [m.register_forward_hook(lambda m, i, o: seen.append(o) if torch.is_tensor(o) and o.dim() == 4
                                           else None) for m in leaves]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return seen[-1] if seen else None


def _gaussian_init(net: nn.Module) -> None:
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, LAYER_TYPES):
                nn.init.normal_(layer_weight(m))
                bias = m.in_proj_bias if isinstance(m, nn.MultiheadAttention) else getattr(m, "bias", None)
                if bias is not None:
                    nn.init.zeros_(bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
