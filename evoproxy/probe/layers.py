"""Which modules the probe measures as layers, and the check that a network is probeable.

Measured layers (one entry per weight matrix): Conv1d/2d/3d, Linear, Embedding, and
MultiheadAttention as two entries, its input projection (``in_proj_weight``, q, k and v packed) then
its output projection. Each call of one is a layer occurrence, in forward order (a shared module
called twice is two occurrences with one weight: :class:`~evoproxy.probe.base.LayerRecorder`).
Normalisation layers (BatchNorm, LayerNorm, GroupNorm) are not measured, as in every reference
implementation of the classic proxies (NASLib measures Conv2d and Linear); a network containing
them probes normally. Recurrent layers are refused with one line: their weights run once per time
step, so per-layer statistics would be ambiguous.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from evoproxy.errors import EvoproxyError

LAYER_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.Embedding, nn.MultiheadAttention)
UNSUPPORTED = (nn.RNNBase, nn.RNNCellBase)
SUPPORTED_TEXT = "Conv1d/2d/3d, Linear, Embedding, MultiheadAttention (packed q/k/v)"


@dataclass(frozen=True)
class OutProj:
    """Stands for a MultiheadAttention's output projection in a recorder's layer list."""

    attention: nn.MultiheadAttention

    @property
    def weight(self) -> torch.Tensor:
        return self.attention.out_proj.weight

    @property
    def bias(self):
        return self.attention.out_proj.bias


def layer_weight(m) -> torch.Tensor:
    """The weight matrix a measured layer entry stands for (a live parameter: never write to it)."""
    return m.in_proj_weight if isinstance(m, nn.MultiheadAttention) else m.weight


def measured_modules(net: nn.Module) -> list[nn.Module]:
    """The modules a recorder hooks: out_proj Linears of attention blocks run functionally and
    are recorded by their block instead."""
    inner = {id(m.out_proj) for m in net.modules() if isinstance(m, nn.MultiheadAttention)}
    return [m for m in net.modules() if isinstance(m, LAYER_TYPES) and id(m) not in inner]


def attention_entries(m: nn.MultiheadAttention, qkv, output) -> list[tuple[object, torch.Tensor]]:
    """(entry, batch-first activation) for an attention block's two projections; the input
    projection's activation is recomputed from the block's inputs (q, k, v side by side)."""
    weights = m.in_proj_weight.detach().chunk(3)
    biases = m.in_proj_bias.detach().chunk(3) if m.in_proj_bias is not None else (None,) * 3
    with torch.no_grad():
        proj = torch.cat([nn.functional.linear(t, w, b) for t, w, b in zip(qkv, weights, biases)], -1)
    out = output[0]
    if not m.batch_first and out.dim() == 3:
        proj, out = proj.transpose(0, 1), out.transpose(0, 1)
    return [(m, proj), (OutProj(m), out)]


def check_network(net: nn.Module) -> None:
    """Refuse, in one line, a network the probe cannot measure faithfully."""
    for name, m in net.named_modules():
        if isinstance(m, UNSUPPORTED):
            raise EvoproxyError(f"layer {name or 'model'} is a {type(m).__name__}: the probe does not "
                                f"measure recurrent layers (supported: {SUPPORTED_TEXT})")
        if isinstance(m, nn.MultiheadAttention) and m.in_proj_weight is None:
            raise EvoproxyError(f"layer {name} is a MultiheadAttention with separate q/k/v weights "
                                "(kdim/vdim != embed_dim): the probe measures packed projections only")
    if not measured_modules(net):
        raise EvoproxyError(f"the network has no layer the probe measures ({SUPPORTED_TEXT}); "
                            "normalisation layers alone carry no per-layer statistics")


def logits_of(output) -> torch.Tensor:
    """The network's output as a (batch, classes) tensor, or one line saying what it returned."""
    if isinstance(output, torch.Tensor) and output.dim() == 2:
        return output
    shape = f" of shape {tuple(output.shape)}" if isinstance(output, torch.Tensor) else ""
    raise ValueError(f"the network returns a {type(output).__name__}{shape}; the probe needs a "
                     "(batch, classes) tensor of logits: wrap the model so forward returns it")
