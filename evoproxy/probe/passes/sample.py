"""Probe passes with a sample axis or ReLU-level features: per-split gradients (ZiCo), the input
of every ReLU (NASWOT, SWAP) and the layer outputs of one image forwarded alone (MeCo)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from evoproxy.lang.stats import SPLITS
from evoproxy.probe.base import LayerRecorder, fresh_copy, layer_grad, register_pass
from evoproxy.probe.layers import logits_of
from evoproxy.probe.rescale import ReluInputs


@register_pass("split")
def _split_pass(model, x, y, names):
    """Gradients of the cross-entropy on each of ``SPLITS`` equal parts of the batch (train-mode
    BN, one network: ZiCo's ``split_data``), stacked per layer as ``[SPLITS, *W.shape]``."""
    if x.shape[0] < SPLITS:
        raise ValueError(f"grad_split needs a probe batch of at least {SPLITS} images")
    net = fresh_copy(model)
    rec = LayerRecorder(net)
    per_split = []
    for xs, ys in zip(x.chunk(SPLITS), y.chunk(SPLITS)):
        net.zero_grad(set_to_none=True)
        F.cross_entropy(logits_of(net(xs)), ys).backward()
        per_split.append({m: layer_grad(m) for m in rec.entries})
    rec.remove()
    return {"grad_split": rec.per_layer(lambda m: torch.stack([g[m] for g in per_split]))}


@register_pass("relu")
def _relu_pass(model, x, y, names):
    """The input of every ReLU the forward runs (modules and ``torch.relu`` alike), batch-first."""
    net = fresh_copy(model)
    inputs = []
    with torch.no_grad(), ReluInputs(lambda t: inputs.append(t.detach().clone())):
        net(x)
    return {"relu_in": tuple(inputs)}


@register_pass("single")
def _single_pass(model, x, y, names):
    """Layer outputs of a train-mode forward of the first probe image alone (normalisation over
    that image's positions only: MeCo's one-image setting)."""
    net = fresh_copy(model)
    rec = LayerRecorder(net, keep_act=True)
    with torch.no_grad():
        net(x[:1])
    rec.remove()
    return {"act_single": tuple(rec.acts)}
