"""Probe passes over a network's blocks and per-sample Jacobians: AZ-NAS (block features and
block Jacobians), TE-NAS (the NTK), GradSign (per-image gradients) and EPE-NAS (label kernel).

*Blocks* are the stages a network declares with a ``probe_blocks()`` method returning modules
in forward order whose outputs chain (each block's output feeds the next), e.g. NAS-Bench-201's
stem and its 17 cells. A network that declares none cannot give block statistics (ValueError:
screened as NaN in a search, one line from ``load_proxy``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from evoproxy.probe.base import LayerRecorder, fresh_copy, register_pass
from evoproxy.probe.layers import logits_of


def probe_blocks(net: nn.Module) -> list[nn.Module]:
    blocks = net.probe_blocks() if callable(getattr(net, "probe_blocks", None)) else None
    if not blocks or len(blocks) < 2:
        raise ValueError(f"{type(net).__name__} declares no blocks: block statistics need a "
                         "probe_blocks() method returning its stages in forward order")
    return list(blocks)


def _block_outputs(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of every block in one train-mode forward, graph kept."""
    outs: list[torch.Tensor] = []
    handles = [b.register_forward_hook(lambda m, a, o: outs.append(o)) for b in probe_blocks(net)]
    try:
        net(x)
    finally:
        for h in handles:
            h.remove()
    return outs


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.movedim(1, -1).reshape(-1, t.shape[1]).double() if t.dim() > 2 else t.double()


def _block_jacobian(f_out: torch.Tensor, f_in: torch.Tensor) -> torch.Tensor:
    """AZ-NAS's M = G_in^T G_out / N for one block: G_out a Rademacher cotangent at its output,
    G_in its vector-Jacobian product at its input (pixel-unshuffled to the output's positions).
    A block that passes gradients through unchanged (an identity) gives the zero matrix."""
    g_out = torch.bernoulli(torch.full_like(f_out, 0.5)) * 2 - 1
    (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=g_out, retain_graph=True, allow_unused=True)
    if g_in is None or (g_in.shape == g_out.shape and torch.equal(g_in, g_out)):
        return torch.zeros(f_in.shape[1] if f_in.dim() > 1 else 1, f_out.shape[1] if f_out.dim() > 1 else 1,
                           dtype=torch.float64)
    if g_in.dim() == 4 and g_in.shape[2:] != g_out.shape[2:]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    go, gi = _channels_last(g_out.detach()), _channels_last(g_in.detach())
    return gi.T @ go / go.shape[0]


@register_pass("blocks")
def _blocks_pass(model, x, y, names):
    """Block outputs (``block_out``) and block Jacobians (``block_jac``) from one train-mode
    forward; cotangents are drawn deepest block first, as AZ-NAS does."""
    net = fresh_copy(model)
    outs = _block_outputs(net, x)
    got = {}
    if "block_out" in names:
        got["block_out"] = tuple(o.detach().clone() for o in outs)
    if "block_jac" in names:
        jacs = [_block_jacobian(outs[i], outs[i - 1]) for i in reversed(range(1, len(outs)))]
        got["block_jac"] = tuple(reversed(jacs))
    return got


def _weight_params(net: nn.Module) -> list[torch.Tensor]:
    """TE-NAS's parameters: every one whose name contains "weight" (Conv, Linear, norm scales)."""
    return [p for n, p in net.named_parameters() if "weight" in n and p.requires_grad]


@register_pass("ntk")
def _ntk_pass(model, x, y, names):
    """The empirical NTK of sum(logits): Theta = J J^T over the probe images (B x B), J_i the
    gradient of image i's summed logits in one train-mode forward of the whole batch."""
    net = fresh_copy(model)
    params = _weight_params(net)
    z = logits_of(net(x))
    rows = []
    for i in range(z.shape[0]):
        grads = torch.autograd.grad(z[i].sum(), params, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                               for g, p in zip(grads, params)]))
    jac = torch.stack(rows).double()
    return {"ntk": (jac @ jac.T,)}


@register_pass("each")
def _each_pass(model, x, y, names):
    """The cross-entropy gradient of each layer weight for each image alone (a forward of that
    one image in train mode: normalisation over its own positions), stacked ``[B, *W.shape]``."""
    net = fresh_copy(model)
    rec = LayerRecorder(net)
    per_image = []
    for i in range(x.shape[0]):
        net.zero_grad(set_to_none=True)
        F.cross_entropy(logits_of(net(x[i:i + 1])), y[i:i + 1]).backward()
        per_image.append(rec.grads())
    rec.remove()
    return {"grad_each": tuple(torch.stack(gs) for gs in zip(*per_image))}


@register_pass("labels")
def _labels_pass(model, x, y, names):
    """1 where two probe images share a label, else 0 (B x B)."""
    return {"same_class": ((y[:, None] == y[None, :]).double(),)}
