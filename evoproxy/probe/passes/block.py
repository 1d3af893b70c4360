"""Probe passes over a network's blocks and per-sample Jacobians: AZ-NAS (block features and
block Jacobians), TE-NAS (the NTK), GradSign (per-image gradients) and EPE-NAS (label kernel).

*Blocks* are stages that chain, each one's output the next one's input: those a network declares
with a ``probe_blocks()`` method (NAS-Bench-201: its stem and its 17 cells), else the children of
an ``nn.Sequential`` network. Block statistics run them in turn from the probe batch. A network
whose stages take more than the previous output (DARTS cells read the two before) declares
``probe_block_outputs(x)`` instead: every block's output from one forward, graph kept. Other
networks have no blocks (ValueError: screened as NaN in a search, one line from ``load_proxy``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from evoproxy.probe.base import LayerRecorder, fresh_copy, layer_grad, register_pass
from evoproxy.probe.layers import logits_of


def probe_blocks(net: nn.Module) -> list[nn.Module]:
    if callable(getattr(net, "probe_blocks", None)):
        blocks = list(net.probe_blocks())
    else:
        blocks = list(net) if isinstance(net, nn.Sequential) else []  # a module listed twice runs twice
    if len(blocks) < 2:
        raise ValueError(f"{type(net).__name__} declares no blocks: block statistics need a probe_blocks() "
                         "method returning at least two stages that chain, in forward order")
    return blocks


def block_outputs(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of every block, run in turn from ``x`` (train mode, graph kept)."""
    if callable(getattr(net, "probe_block_outputs", None)):
        outs = list(net.probe_block_outputs(x))
        if len(outs) < 2:
            raise ValueError(f"{type(net).__name__}.probe_block_outputs gave {len(outs)} outputs; blocks need two")
        return outs
    outs, h = [], x
    for block in probe_blocks(net):
        h = block(h)
        outs.append(h)
    return outs


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.movedim(1, -1).reshape(-1, t.shape[1]).double()


def _paired_rows(g_in: torch.Tensor, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and output gradients as matrices with one row per position: channels-last when both
    are feature maps (the input pixel-unshuffled to the output's resolution), else one row per image."""
    if g_in.dim() == g_out.dim() == 4:
        factor = g_in.shape[2] // max(g_out.shape[2], 1)
        if factor >= 1 and g_in.shape[2:] == (g_out.shape[2] * factor, g_out.shape[3] * factor):
            return _channels_last(F.pixel_unshuffle(g_in, factor) if factor > 1 else g_in), _channels_last(g_out)
    return g_in.reshape(g_in.shape[0], -1).double(), g_out.reshape(g_out.shape[0], -1).double()


def _block_jacobian(f_out: torch.Tensor, f_in: torch.Tensor) -> torch.Tensor:
    """AZ-NAS's M = G_in^T G_out / N for one block: G_out a Rademacher cotangent at its output,
    G_in its vector-Jacobian product at its input. A block that passes gradients through
    unchanged (an identity) gives the zero matrix."""
    g_out = torch.bernoulli(torch.full_like(f_out, 0.5)) * 2 - 1
    (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=g_out, retain_graph=True, allow_unused=True)
    if g_in is None:
        g_in = torch.zeros_like(f_in)
    gi, go = _paired_rows(g_in.detach(), g_out)
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return torch.zeros(gi.shape[1], go.shape[1], dtype=torch.float64)
    return gi.T @ go / go.shape[0]


@register_pass("blocks")
def _blocks_pass(model, x, y, names):
    """Block outputs (``block_out``) and block Jacobians (``block_jac``) from one train-mode
    forward; cotangents are drawn deepest block first, as AZ-NAS does."""
    net = fresh_copy(model)
    outs = block_outputs(net, x)
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
        per_image.append({m: layer_grad(m) for m in rec.entries})
    rec.remove()
    return {"grad_each": rec.per_layer(lambda m: torch.stack([g[m] for g in per_image]))}


@register_pass("labels")
def _labels_pass(model, x, y, names):
    """1 where two probe images share a label, else 0 (B x B)."""
    return {"same_class": ((y[:, None] == y[None, :]).double(),)}
