"""Every classic proxy, as registered in the proxy language, against a direct implementation.

The direct implementations below are written from the papers / the NAS-Bench-Suite-Zero
(NASLib, zero-cost-nas) reference code, in plain PyTorch on a deep copy of the model. They use
nothing from :mod:`evoproxy.probe.base`; the library is only reached through
``evaluate(PROXIES.get(name).program, collect(model, x, y, program.stats, seed=0))``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from evoproxy.probe.base import collect
from evoproxy.lang.proxies import EVOLVED, PROXIES
from evoproxy.lang.stats import STATS

from tests.directhelp import assert_close, library_score
from tests.probehelp import LAYERS, MODELS, batch, copy_model, reordered, tiny_cnn
from tests.probe.test_mq_proxies_direct import MQ_DIRECT
from tests.probe.test_vit_proxies_direct import VIT_DIRECT

REL_TOL = 1e-4
SEED = 0


# ---- direct implementations -------------------------------------------------------------------

def _layers(net: nn.Module) -> list[nn.Module]:
    # registration order on purpose: every direct score pairs tensors of one module, so the
    # order of the layers does not matter for the sum
    return [m for m in net.modules() if isinstance(m, LAYERS)]


def _ce_weight_grads(model, x, y) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(W, dL/dW) per Conv2d/Linear layer, cross-entropy on the batch, train mode."""
    net = copy_model(model)
    F.cross_entropy(net(x), y).backward()
    return [(m.weight.detach(), m.weight.grad if m.weight.grad is not None
             else torch.zeros_like(m.weight)) for m in _layers(net)]


def direct_grad_norm(model, x, y) -> float:
    return sum(float(g.norm()) for _, g in _ce_weight_grads(model, x, y))


def direct_plain(model, x, y) -> float:
    return sum(float((g.double() * w.double()).sum()) for w, g in _ce_weight_grads(model, x, y))


class _Mask(nn.Module):
    def __init__(self, shape) -> None:
        super().__init__()
        self.mask = nn.Parameter(torch.ones(shape))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w * self.mask


def direct_snip(model, x, y) -> float:
    """SNIP as in the reference code: |dL/d mask| with the weight multiplied by a ones mask."""
    net = copy_model(model)
    masks = []
    for m in _layers(net):
        mask = _Mask(m.weight.shape)
        parametrize.register_parametrization(m, "weight", mask)
        masks.append(mask.mask)
    F.cross_entropy(net(x), y).backward()
    return sum(float(mk.grad.double().abs().sum()) for mk in masks)


def direct_grasp(model, x, y) -> float:
    """-sum W * (H g), H g by double backward of the cross-entropy w.r.t. the layer weights."""
    net = copy_model(model)
    weights = [m.weight for m in _layers(net)]
    loss = F.cross_entropy(net(x), y)
    g = torch.autograd.grad(loss, weights, create_graph=True)
    z = sum((gi.detach() * gi).sum() for gi in g)
    hg = torch.autograd.grad(z, weights)
    return -sum(float((w.detach().double() * h.double()).sum()) for w, h in zip(weights, hg))


def direct_fisher(model, x, y) -> float:
    """sum over layers and channels of 0.5 * mean_n (sum_hw act * dL/dact)^2, each channel's
    value counted once per weight feeding it (NASLib's reshape_elements), i.e. times fan-in."""
    net = copy_model(model)
    outs, fan_in = [], []

    def hook(m, inputs, out):
        out.retain_grad()
        outs.append(out)
        fan_in.append(m.weight[0].numel())
        return out.clone()  # later in-place ops (ReLU(inplace)) must not touch the kept output
    for m in _layers(net):
        m.register_forward_hook(hook)
    F.cross_entropy(net(x), y).backward()
    total = 0.0
    for a, k in zip(outs, fan_in):
        prod = (a.detach() * a.grad).double()
        g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
        total += k * float((0.5 * g_nk.pow(2).mean(0)).sum())
    return total


def direct_synflow(model, x, y) -> float:
    """log(1 + sum |W' * dR/dW'|): float64, eval mode, all floating state abs'd, one all-ones image."""
    net = copy_model(model, train=False).double()
    with torch.no_grad():
        for t in list(net.parameters()) + list(net.buffers()):
            if t.is_floating_point():
                t.copy_(t.abs())
    weights = [m.weight for m in _layers(net)]
    r = net(torch.ones((1,) + tuple(x.shape[1:]), dtype=torch.float64)).sum()
    grads = torch.autograd.grad(r, weights, allow_unused=True)
    return math.log1p(sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads) if g is not None))


def direct_jacov(model, x, y) -> float:
    net = copy_model(model)
    xg = x.clone().requires_grad_(True)
    (jac,) = torch.autograd.grad(net(xg).sum(), xg)
    corr = np.corrcoef(jac.reshape(x.shape[0], -1).double().numpy())
    v = np.linalg.eig(corr)[0].real
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def direct_nwot(model, x, y) -> float:
    net = copy_model(model)
    n = x.shape[0]
    kernel = np.zeros((n, n))

    def pre_hook(m, inputs):  # before the ReLU runs, so in-place ReLUs cannot interfere
        c = (inputs[0].detach().reshape(n, -1) > 0).double().numpy()
        kernel[...] += c @ c.T + (1 - c) @ (1 - c).T
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_pre_hook(pre_hook)
    with torch.no_grad():
        net(x)
    return float(np.linalg.slogdet(kernel)[1])


def direct_zen(model, x, y, seed: int = SEED, gamma: float = 1e-2) -> float:
    """Zen-NAS compute_zen_score (repeat=1) with network_weight_gaussian_init, train mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = copy_model(model)
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, LAYERS):
                    nn.init.normal_(m.weight)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
            a = torch.randn(size=list(x.shape), dtype=x.dtype)
            b = torch.randn(size=list(x.shape), dtype=x.dtype)
            feats = []
            gap = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)][-1]
            gap.register_forward_pre_hook(lambda m, i: feats.append(i[0].clone()))
            net(a)
            net(a + gamma * b)
            score = torch.log(torch.mean(torch.sum(torch.abs(feats[0] - feats[1]), dim=[1, 2, 3])))
            for m in net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    score = score + torch.log(torch.sqrt(torch.mean(m.running_var)))
    return float(score)


def direct_l2_norm(model, x, y) -> float:
    return sum(float(m.weight.detach().norm()) for m in _layers(model))


def direct_tvt_capability(model, x, y) -> float:
    return sum(float(m.weight.detach().double().norm()) for m in _layers(model))


def direct_params(model, x, y) -> float:
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad))


def direct_flops(model, x, y) -> float:
    """Conv2d/Linear MACs of one image, from the layer hyper-parameters, in millions."""
    net = copy_model(model, train=False)
    macs = []

    def pre_hook(m, inputs):
        shape = inputs[0].shape
        if isinstance(m, nn.Linear):
            macs.append(shape[:-1].numel() * m.out_features * m.in_features)
            return
        h, w = shape[-2:]
        ho = (h + 2 * m.padding[0] - m.dilation[0] * (m.kernel_size[0] - 1) - 1) // m.stride[0] + 1
        wo = (w + 2 * m.padding[1] - m.dilation[1] * (m.kernel_size[1] - 1) - 1) // m.stride[1] + 1
        macs.append(shape[0] * m.out_channels * ho * wo
                    * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1])
    for m in _layers(net):
        m.register_forward_pre_hook(pre_hook)
    with torch.no_grad():
        net(x[:1])
    return sum(macs) / 1e6


DIRECT = {
    "grad_norm": direct_grad_norm, "snip": direct_snip, "grasp": direct_grasp,
    "fisher": direct_fisher, "synflow": direct_synflow, "jacov": direct_jacov,
    "nwot": direct_nwot, "zen": direct_zen, "l2_norm": direct_l2_norm, "plain": direct_plain,
    "params": direct_params, "flops": direct_flops, "tvt_capability": direct_tvt_capability,
}


# ---- the proxies ------------------------------------------------------------------------------

def test_every_registered_proxy_has_a_direct_implementation():
    from tests.lang.test_sota_proxies import SOTA_DIRECT
    from tests.lang.test_sota_proxies_b import SOTA_DIRECT_B
    from tests.lang.test_vkdnw import VKDNW_DIRECT
    evolved = {n for n in PROXIES if PROXIES.get(n).source == EVOLVED}   # their formula is their definition
    assert set(PROXIES) - evolved == (set(DIRECT) | set(MQ_DIRECT) | set(VIT_DIRECT) | set(SOTA_DIRECT)
                                      | set(SOTA_DIRECT_B) | set(VKDNW_DIRECT))


def test_every_shipped_evolved_proxy_is_its_provenance_files_formula_and_not_in_all():
    import json
    from pathlib import Path
    from evoproxy.lang.proxies import proxies_for
    folder = Path(__file__).resolve().parents[2] / "experiments" / "proxies"
    evolved = [p for p in PROXIES.values() if p.source == EVOLVED]
    assert evolved
    for p in evolved:
        doc = json.loads((folder / f"{p.name.replace('_', '-')}.json").read_text())
        assert doc["formula"] == p.program.text and doc["provenance"]["command"]
        assert not any(p.name in proxies_for(line) for line in ("nas", "mq", "vit"))


@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("name", sorted(DIRECT))
def test_proxy_matches_direct_implementation(name, model_name):
    model = MODELS[model_name]()
    x, y = batch()
    want = DIRECT[name](model, x, y)
    assert_close(library_score(name, model, x, y), want)


@pytest.mark.parametrize("seed", [0, 7])
def test_zen_uses_the_collect_seed(seed):
    model = tiny_cnn()
    x, y = batch()
    assert_close(library_score("zen", model, x, y, seed=seed), direct_zen(model, x, y, seed=seed))
    assert library_score("zen", model, x, y, seed=seed) != direct_zen(model, x, y, seed=seed + 1)


def test_flops_of_the_tiny_cnn_by_hand():
    # conv1: 4 ch x 8x8 out x 3*3*3; conv2: 6 ch x 3x3 out x 4*3*3; linear: 6*5
    assert_close(library_score("flops", tiny_cnn(), *batch()),
                 (4 * 64 * 27 + 6 * 9 * 36 + 30) / 1e6)


def test_params_of_the_tiny_cnn_by_hand():
    # conv1 108, bn 8, conv2 216 + 6, bn 12, linear 30 + 5
    assert library_score("params", tiny_cnn(), *batch()) == 108 + 8 + 222 + 12 + 35


# ---- per-layer alignment ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["snip", "plain", "grad_norm", "synflow", "fisher", "grasp"])
def test_reordered_model_per_layer_pairing(name):
    """A misaligned pairing would change these scores on the reordered model (conv2 ~ conv3)."""
    model = reordered()
    x, y = batch()
    assert_close(library_score(name, model, x, y), DIRECT[name](model, x, y))


def test_per_layer_stats_follow_forward_order_and_align():
    model = reordered()
    x, y = batch()
    per_layer = [n for n in STATS if STATS.get(n).vtype.kind == "tensor"]
    s = collect(model, x, y, per_layer)
    order = model.forward_order()
    # forward order, not registration order
    assert len(s["weight"]) == len(order)
    for w, m in zip(s["weight"], order):
        assert torch.equal(w, m.weight.detach())
    # weight-shaped statistics pair up layer by layer, and so do the activation-shaped ones
    for n in ("grad", "virtual_grad", "hess_grad"):
        assert [t.shape for t in s[n]] == [t.shape for t in s["weight"]], n
    assert [t.shape for t in s["act"]] == [t.shape for t in s["act_grad"]]
    # each grad is the cross-entropy gradient of that very layer
    net = copy_model(model)
    F.cross_entropy(net(x), y).backward()
    for g, m in zip(s["grad"], net.forward_order()):
        torch.testing.assert_close(g, m.weight.grad, rtol=1e-5, atol=1e-7)
    # each act is that layer's output on the batch (train mode)
    acts = []
    fresh = copy_model(model)
    for m in fresh.forward_order():
        m.register_forward_hook(lambda m, i, o: acts.append(o.detach().clone()))
    with torch.no_grad():
        fresh(x)
    assert len(acts) == len(s["act"])
    for a, b in zip(s["act"], acts):
        torch.testing.assert_close(a, b)
